"""Catalogue and places as read models, page by page in key order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

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


def sku_page(conn: Connection, *, after: str | None, limit: int) -> list[SkuView]:
    """Up to ``limit`` SKUs whose code sorts after ``after``."""
    query = select(skus).order_by(skus.c.code).limit(limit)
    if after is not None:
        query = query.where(skus.c.code > after)
    return [_sku(r) for r in conn.execute(query)]


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


def location_views(conn: Connection, *, scope: Scope = EVERYWHERE) -> list[LocationView]:
    """Every location the scope sees, by code."""
    query = select(locations).order_by(locations.c.code)
    seen = location_condition(scope, locations.c.id)
    return [
        LocationView(
            code=r.code,
            name=r.name,
            kind=r.kind,
            address=r.address,
            latitude=r.latitude,
            longitude=r.longitude,
            allow_negative=bool(r.allow_negative),
        )
        for r in conn.execute(query if seen is None else query.where(seen))
    ]


def bin_views(conn: Connection, location: str, *, scope: Scope = EVERYWHERE) -> list[BinView]:
    """The bins of one location in walking order; a location the scope does not see is unknown."""
    ref = lookup.location_by_code(conn, location, scope=scope)
    rows = conn.execute(
        select(bins).where(bins.c.location_id == ref.id).order_by(bins.c.sequence, bins.c.code)
    )
    return [
        BinView(
            ref.code, r.code, r.zone, int(r.sequence), r.role,
            None if r.capacity is None else int(r.capacity),
        )
        for r in rows
    ]  # fmt: skip
