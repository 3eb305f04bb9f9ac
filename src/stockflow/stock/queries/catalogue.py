"""Catalogue and places as read models, page by page in key order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from stockflow.adapters.exporting import Rows, each
from stockflow.adapters.paging import Keyset, Page
from stockflow.adapters.tables import bins, locations, skus
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.visibility import location_condition


@dataclass(frozen=True, slots=True)
class SkuView:
    """A catalogue item."""

    code: str
    name: str
    base_unit: str
    active: bool
    lot_tracked: bool
    unit_price: Decimal | None
    attributes: dict[str, str]

    def without_prices(self) -> SkuView:
        """This SKU as a caller who may not see prices reads it."""
        return replace(self, unit_price=None)


@dataclass(frozen=True, slots=True)
class LocationView:
    """A site."""

    code: str
    name: str
    kind: str
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    allow_negative: bool


@dataclass(frozen=True, slots=True)
class BinView:
    """A bin inside a location."""

    location: str
    code: str
    zone: str | None
    sequence: int
    role: str
    capacity: int | None


SKUS = Keyset("skus", skus.c.code)
LOCATIONS = Keyset("locations", locations.c.code)
BINS = Keyset("bins", bins.c.sequence, bins.c.code)  # within one location


def sku_page(conn: Connection, *, after: str | None = None, limit: int) -> Page[SkuView]:
    """Up to ``limit`` SKUs in code order, after cursor ``after``."""
    return SKUS.page(conn, select(skus), after=after, limit=limit).map(_sku)


SKU_COLUMNS = ("code", "name", "base_unit", "active", "lot_tracked", "unit_price", "attributes")
LOCATION_COLUMNS = ("code", "name", "kind", "address", "latitude", "longitude", "allow_negative")


def sku_rows(scope: Scope = EVERYWHERE) -> Rows:
    """Every SKU for an export, in code order (the catalogue is everyone's)."""
    return Rows(
        select(skus),
        SKUS,
        each(lambda r: (
            r.code, r.name, r.base_unit, bool(r.active), bool(r.lot_tracked), r.unit_price,
            dict(r.attributes or {}),
        )),
    )  # fmt: skip


def location_rows(scope: Scope = EVERYWHERE) -> Rows:
    """Every location the scope sees, for an export, in code order."""
    query = select(locations)
    seen = location_condition(scope, locations.c.id)
    return Rows(
        query if seen is None else query.where(seen),
        LOCATIONS,
        each(lambda r: (
            r.code, r.name, r.kind, r.address, r.latitude, r.longitude, bool(r.allow_negative),
        )),
    )  # fmt: skip


def sku_view(conn: Connection, code: str) -> SkuView:
    """One SKU, or ``UnknownSku``."""
    ref = lookup.sku_by_code(conn, code)
    return _sku(conn.execute(select(skus).where(skus.c.id == ref.id)).one())


def _sku(r: Row[Any]) -> SkuView:
    return SkuView(
        code=r.code,
        name=r.name,
        base_unit=r.base_unit,
        active=bool(r.active),
        lot_tracked=bool(r.lot_tracked),
        unit_price=r.unit_price,
        attributes=dict(r.attributes or {}),
    )


def location_page(
    conn: Connection, *, after: str | None = None, limit: int, scope: Scope = EVERYWHERE
) -> Page[LocationView]:
    """Up to ``limit`` locations the scope sees, in code order, after cursor ``after``."""
    query = select(locations)
    seen = location_condition(scope, locations.c.id)
    if seen is not None:
        query = query.where(seen)
    return LOCATIONS.page(conn, query, after=after, limit=limit).map(_location)


def location_view(conn: Connection, code: str, *, scope: Scope = EVERYWHERE) -> LocationView:
    """One location the scope sees, or ``UnknownLocation``."""
    ref = lookup.location_by_code(conn, code, scope=scope)
    return _location(conn.execute(select(locations).where(locations.c.id == ref.id)).one())


def _location(r: Row[Any]) -> LocationView:
    return LocationView(
        code=r.code,
        name=r.name,
        kind=r.kind,
        address=r.address,
        latitude=r.latitude,
        longitude=r.longitude,
        allow_negative=bool(r.allow_negative),
    )


def bin_page(
    conn: Connection,
    location: str,
    *,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[BinView]:
    """The bins of one location in walking order; a location the scope does not see is unknown."""
    ref = lookup.location_by_code(conn, location, scope=scope)
    query = select(bins).where(bins.c.location_id == ref.id)
    return BINS.page(conn, query, after=after, limit=limit).map(
        lambda r: BinView(
            ref.code, r.code, r.zone, int(r.sequence), r.role,
            None if r.capacity is None else int(r.capacity),
        )
    )  # fmt: skip
