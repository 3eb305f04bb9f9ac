"""Kinds of location, which of them hold stock that may be promised, and distances between them."""

from __future__ import annotations

import math
from decimal import Decimal
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


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance, or None when either end's coordinates are unknown."""
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def coords(lat: Decimal | None, lon: Decimal | None) -> tuple[float, float] | None:
    """A point to measure distances from; None when either coordinate is unknown."""
    return None if lat is None or lon is None else (float(lat), float(lon))
