"""Kinds of location, and which of them hold stock that may be promised."""

from __future__ import annotations

from enum import StrEnum


class LocationKind(StrEnum):
    """What a location is; only some kinds hold sellable stock."""

    WAREHOUSE = "warehouse"
    STORE = "store"
    DC = "dc"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    IN_TRANSIT = "in_transit"


SELLABLE_KINDS = frozenset({LocationKind.WAREHOUSE, LocationKind.STORE, LocationKind.DC})
"""Stock at these kinds counts towards available-to-promise."""


class BinRole(StrEnum):
    """What a bin is for on the floor."""

    STORAGE = "storage"
    RECEIVING = "receiving"  # the dock: received, not yet put away
    STAGING = "staging"  # picked, waiting to be packed and shipped
    QUARANTINE = "quarantine"  # damaged or under quality review
    RETURNS = "returns"  # returned, not yet inspected


SELLABLE_BIN_ROLES = frozenset({BinRole.STORAGE, BinRole.RECEIVING, BinRole.STAGING})
"""Stock in these bins may be promised; quarantined and uninspected returns may not."""

DEFAULT_BIN = "MAIN"
"""Every location gets this bin, used when a move names no bin."""
