"""Available-to-promise: on hand - allocated - safety buffer, by position, location and in total.

Expired lots count as on hand but never as available; only sellable kinds of
location (warehouse, store, DC) count towards ATP.

A caller limited to sites sees the positions and ATP of its sites. A caller
limited to sales channels sees them as its channels would be allocated:
at the sites they ship from, less what other channels' ring fences keep
back there (its own fences are its to take), just as the stock book plans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    bins,
    channels,
    locations,
    lots,
    positions,
    ring_fences,
    skus,
    stock_buffers,
)
from stockflow.errors import UnknownSku
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.places import SELLABLE_BIN_ROLES, SELLABLE_KINDS
from stockflow.stock.visibility import location_condition


@dataclass(frozen=True, slots=True)
class PositionView:
    """One position: a SKU in a bin (and lot) of a location."""

    sku: str
    location: str
    bin: str
    lot: str | None
    expires_on: date | None
    on_hand: int
    allocated: int
    expired: bool

    @property
    def free(self) -> int:
        """On hand less allocated, ignoring expiry and buffers."""
        return self.on_hand - self.allocated


@dataclass(frozen=True, slots=True)
class LocationAtp:
    """A SKU at one location."""

    location: str
    on_hand: int
    allocated: int
    expired: int
    buffer: int
    available: int


@dataclass(frozen=True, slots=True)
class SkuAtp:
    """A SKU across every sellable location."""

    sku: str
    on_hand: int
    allocated: int
    available: int
    locations: tuple[LocationAtp, ...]


def position_views(
    conn: Connection,
    *,
    today: date,
    sku: str | None = None,
    location: str | None = None,
    scope: Scope = EVERYWHERE,
) -> list[PositionView]:
    """Positions the scope sees, optionally of one SKU and/or one location, in key order."""
    query = (
        select(
            skus.c.code.label("sku"),
            locations.c.code.label("location"),
            bins.c.code.label("bin"),
            positions.c.lot_code,
            lots.c.expires_on,
            positions.c.on_hand,
            positions.c.allocated,
        )
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .outerjoin(
            lots, (lots.c.sku_id == positions.c.sku_id) & (lots.c.code == positions.c.lot_code)
        )
        .order_by(skus.c.code, locations.c.code, bins.c.sequence, bins.c.code, positions.c.lot_code)
    )
    if sku is not None:
        query = query.where(positions.c.sku_id == lookup.sku_by_code(conn, sku).id)
    if location is not None:
        place = lookup.location_by_code(conn, location, scope=scope)
        query = query.where(positions.c.location_id == place.id)
    seen = location_condition(scope, positions.c.location_id)
    if seen is not None:
        query = query.where(seen)
    return [
        PositionView(
            sku=r.sku,
            location=r.location,
            bin=r.bin,
            lot=r.lot_code or None,
            expires_on=r.expires_on,
            on_hand=int(r.on_hand),
            allocated=int(r.allocated),
            expired=r.expires_on is not None and r.expires_on <= today,
        )
        for r in conn.execute(query)
    ]


def atp_for_skus(
    conn: Connection, codes: Iterable[str] | None, *, today: date, scope: Scope = EVERYWHERE
) -> list[SkuAtp]:
    """ATP of the given SKUs (every SKU when ``codes`` is None), per location and in total."""
    query = _atp_query(today, scope)
    wanted: list[str] | None = None
    if codes is not None:
        wanted = sorted(set(codes))
        known = lookup.skus_by_code(conn, wanted)
        for code in wanted:
            if code not in known:
                raise UnknownSku(f"no SKU with code {code!r}", field="sku")
        query = query.where(among(skus.c.code, wanted))
    per_sku: dict[str, list[LocationAtp]] = defaultdict(list)
    for r in conn.execute(query):
        on_hand, allocated = int(r.on_hand), int(r.allocated)
        buffer = int(r.buffer)
        # What other channels' ring fences keep back is out of reach, as a buffer is.
        kept = buffer + int(r._mapping.get("fenced", 0))
        per_sku[r.sku].append(
            LocationAtp(
                location=r.location,
                on_hand=on_hand,
                allocated=allocated,
                expired=int(r.expired),
                buffer=buffer,
                available=max(0, int(r.fresh_free) - kept),
            )
        )
    order = wanted if wanted is not None else sorted(per_sku)
    return [
        SkuAtp(
            sku=code,
            on_hand=sum(x.on_hand for x in per_sku[code]),
            allocated=sum(x.allocated for x in per_sku[code]),
            available=sum(x.available for x in per_sku[code]),
            locations=tuple(per_sku[code]),
        )
        for code in order
    ]


def _atp_query(today: date, scope: Scope) -> Select[Any]:
    """Sellable stock per SKU and location: on hand, allocated, expired, fresh and free, buffer."""
    expired = func.coalesce(lots.c.expires_on <= today, False)
    free = positions.c.on_hand - positions.c.allocated
    query = (
        select(
            skus.c.code.label("sku"),
            locations.c.code.label("location"),
            func.sum(positions.c.on_hand).label("on_hand"),
            func.sum(positions.c.allocated).label("allocated"),
            func.sum(case((expired & (free > 0), free), else_=0)).label("expired"),
            func.sum(case((~expired & (free > 0), free), else_=0)).label("fresh_free"),
            func.coalesce(func.max(stock_buffers.c.qty), 0).label("buffer"),
        )
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .outerjoin(
            lots, (lots.c.sku_id == positions.c.sku_id) & (lots.c.code == positions.c.lot_code)
        )
        .outerjoin(
            stock_buffers,
            (stock_buffers.c.sku_id == positions.c.sku_id)
            & (stock_buffers.c.location_id == positions.c.location_id),
        )
        .where(
            locations.c.kind.in_(sorted(SELLABLE_KINDS)),
            bins.c.role.in_(sorted(SELLABLE_BIN_ROLES)),
        )
        .group_by(skus.c.code, locations.c.code)
        .order_by(skus.c.code, locations.c.code)
    )
    if scope.channels is not None:
        query = _fenced_from(scope, query)
    seen = location_condition(scope, positions.c.location_id)
    return query if seen is None else query.where(seen)


def _fenced_from(scope: Scope, query: Select[Any]) -> Select[Any]:
    """``query`` with a ``fenced`` column: units other channels' ring fences keep back."""
    mine = scope.channels or ()
    others = (
        select(
            ring_fences.c.sku_id,
            ring_fences.c.location_id,
            func.sum(ring_fences.c.qty).label("qty"),
        )
        .join(channels, channels.c.id == ring_fences.c.channel_id)
        .where(~among(channels.c.code, mine))
        .group_by(ring_fences.c.sku_id, ring_fences.c.location_id)
        .subquery()
    )
    return query.outerjoin(
        others,
        (others.c.sku_id == positions.c.sku_id) & (others.c.location_id == positions.c.location_id),
    ).add_columns(func.coalesce(func.max(others.c.qty), 0).label("fenced"))
