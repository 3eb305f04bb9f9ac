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

DEFAULT_BIN = "MAIN"
"""Every location gets this bin, used when a move names no bin."""
