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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, Select, case, exists, func, select

from stockflow.adapters.exporting import Rows
from stockflow.adapters.paging import Keyset, Page
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


# Positions in key order: a page after a page walks the unique key's index. Filtered by SKU
# and/or location, those columns are left out of the key (the filter holds them): an equality
# and a row comparison on one leading column would send PostgreSQL to the filter's first row.
_SKU, _LOCATION = positions.c.sku_id, positions.c.location_id
_BIN, _LOT = positions.c.bin_id, positions.c.lot_code
POSITIONS = Keyset("positions", _SKU, _LOCATION, _BIN, _LOT)
POSITIONS_AT = Keyset("positions-at", _SKU, _BIN, _LOT)  # ix_positions_location_key
POSITIONS_OF = Keyset("positions-of", _LOCATION, _BIN, _LOT)  # uq_positions_key
POSITIONS_OF_AT = Keyset("positions-of-at", _BIN, _LOT)
ATP = Keyset("atp", skus.c.code)


def position_page(
    conn: Connection,
    *,
    today: date,
    sku: str | None = None,
    location: str | None = None,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[PositionView]:
    """Positions the scope sees, optionally of one SKU and/or one location, page by page.

    In key order: SKU, location, bin and lot as each was added, so a deep page
    is a range scan of an index like the first. The page is found on the
    positions alone, then its codes are looked up: joined first, the
    database may walk the SKUs from the start to meet a deep page.
    """
    query = _positions_filtered(
        conn, select(positions.c.id), sku=sku, location=location, scope=scope
    )
    keyset = {
        (False, False): POSITIONS,
        (False, True): POSITIONS_AT,
        (True, False): POSITIONS_OF,
        (True, True): POSITIONS_OF_AT,
    }[(sku is not None, location is not None)]
    page = keyset.page(conn, query, after=after, limit=limit)
    found = _positions_by_id(conn, [r.id for r in page])
    return page.map(lambda r: _position(found[r.id], today))


def position_views(
    conn: Connection,
    *,
    today: date,
    sku: str | None = None,
    location: str | None = None,
    scope: Scope = EVERYWHERE,
) -> list[PositionView]:
    """Every position of a SKU and/or a location the scope sees, in key order (no paging)."""
    query = _positions_filtered(conn, _positions_select(), sku=sku, location=location, scope=scope)
    return [_position(r, today) for r in conn.execute(POSITIONS.ordered(query))]


POSITION_COLUMNS = (
    "sku", "location", "bin", "lot", "expires_on", "on_hand", "allocated", "available", "expired",
)  # fmt: skip
ATP_COLUMNS = ("sku", "location", "on_hand", "allocated", "expired", "buffer", "available")


def position_rows(scope: Scope, today: date) -> Rows:
    """Every position the scope sees, for an export, in key order."""

    def values(conn: Connection, rows: Sequence[Row[Any]]) -> list[tuple[object, ...]]:
        found = _positions_by_id(conn, [r[0] for r in rows])
        out: list[tuple[object, ...]] = []
        for r in rows:
            sku, location, bin_code, lot, expires_on, on_hand, allocated, _ = tuple(found[r[0]])
            expired = expires_on is not None and expires_on <= today
            available = 0 if expired else max(0, on_hand - allocated)
            out.append((
                sku, location, bin_code, lot or None, expires_on, on_hand, allocated, available,
                expired,
            ))  # fmt: skip
        return out

    query = _positions_filtered(None, select(positions.c.id), sku=None, location=None, scope=scope)
    return Rows(query, POSITIONS, values)


def atp_rows(scope: Scope, today: date) -> Rows:
    """ATP of every SKU with stock per sellable location, for an export, in SKU code order.

    Walked by SKU (as ``atp_page``): each chunk of SKUs, then their locations.
    """

    def per_location(conn: Connection, rows: Sequence[Row[Any]]) -> list[tuple[object, ...]]:
        found = _atp_of(conn, {r.id: r.code for r in rows}, today=today, scope=scope)
        return [
            (s.sku, a.location, a.on_hand, a.allocated, a.expired, a.buffer, a.available)
            for s in (found[r.code] for r in rows)
            for a in s.locations
        ]

    query = select(skus.c.id, skus.c.code).where(
        exists(_sellable(scope).where(positions.c.sku_id == skus.c.id))
    )
    return Rows(query, ATP, per_location)


def _positions_filtered(
    conn: Connection | None,
    query: Select[Any],
    *,
    sku: str | None,
    location: str | None,
    scope: Scope,
) -> Select[Any]:
    """``query`` over positions kept to a SKU and/or a location, and to what the scope sees."""
    if sku is not None and conn is not None:
        query = query.where(positions.c.sku_id == lookup.sku_by_code(conn, sku).id)
    if location is not None and conn is not None:
        place = lookup.location_by_code(conn, location, scope=scope)
        query = query.where(positions.c.location_id == place.id)
    seen = location_condition(scope, positions.c.location_id)
    return query if seen is None else query.where(seen)


def _positions_by_id(conn: Connection, ids: list[int]) -> dict[int, Row[Any]]:
    """Positions with their SKU, location and bin codes and lot expiry, by id."""
    if not ids:
        return {}
    query = _positions_select().add_columns(positions.c.id)
    found = conn.execute(query.where(among(positions.c.id, ids))).all()
    return {r[-1]: r for r in found}


def _positions_select() -> Select[Any]:
    return (
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
    )


def _position(r: Row[Any], today: date) -> PositionView:
    return PositionView(
        sku=r.sku,
        location=r.location,
        bin=r.bin,
        lot=r.lot_code or None,
        expires_on=r.expires_on,
        on_hand=int(r.on_hand),
        allocated=int(r.allocated),
        expired=r.expires_on is not None and r.expires_on <= today,
    )


def atp_for_skus(
    conn: Connection, codes: Iterable[str], *, today: date, scope: Scope = EVERYWHERE
) -> list[SkuAtp]:
    """ATP of the given SKUs, per location and in total, in the order asked (each once)."""
    wanted = sorted(set(codes))
    known = lookup.skus_by_code(conn, wanted)
    for code in wanted:
        if code not in known:
            raise UnknownSku(f"no SKU with code {code!r}", field="sku")
    found = _atp_of(conn, {known[c].id: c for c in wanted}, today=today, scope=scope)
    return [found[code] for code in wanted]


def atp_page(
    conn: Connection,
    codes: Iterable[str] | None = None,
    *,
    today: date,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[SkuAtp]:
    """ATP page by page in SKU code order: of the SKUs named, or of every SKU with stock.

    "With stock" is a position at a sellable place the scope sees; which SKUs
    a page holds is found first (an index walk over SKU codes), their ATP
    second, so a deep page costs what the first does.
    """
    query = select(skus.c.id, skus.c.code)
    if codes is not None:
        wanted = sorted(set(codes))
        known = lookup.skus_by_code(conn, wanted)
        for code in wanted:
            if code not in known:
                raise UnknownSku(f"no SKU with code {code!r}", field="sku")
        query = query.where(among(skus.c.code, wanted))
    else:
        query = query.where(exists(_sellable(scope).where(positions.c.sku_id == skus.c.id)))
    page = ATP.page(conn, query, after=after, limit=limit)
    found = _atp_of(conn, {r.id: r.code for r in page}, today=today, scope=scope)
    return page.map(lambda r: found[r.code])


def _sellable(scope: Scope) -> Select[Any]:
    """Positions at sellable bins of sellable locations the scope sees."""
    query = (
        select(positions.c.id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .where(
            locations.c.kind.in_(sorted(SELLABLE_KINDS)),
            bins.c.role.in_(sorted(SELLABLE_BIN_ROLES)),
        )
    )
    seen = location_condition(scope, positions.c.location_id)
    return query if seen is None else query.where(seen)


def _atp_of(
    conn: Connection, names: dict[int, str], *, today: date, scope: Scope
) -> dict[str, SkuAtp]:
    """ATP of the SKUs with these ids (at most a page of them; id -> code), by code."""
    per_sku: dict[str, list[LocationAtp]] = defaultdict(list)
    if names:
        query = atp_query(today, scope).where(among(positions.c.sku_id, sorted(names)))
        # By position: sku, location, on hand, allocated, expired, fresh and free, buffer, and
        # for a caller limited to channels what other channels' ring fences keep back.
        for sku, location, on_hand, allocated, expired, fresh_free, buffer, *fenced in conn.execute(
            query
        ).all():
            kept = int(buffer) + (int(fenced[0]) if fenced else 0)  # out of reach, as a buffer
            per_sku[sku].append(
                LocationAtp(
                    location, int(on_hand), int(allocated), int(expired), int(buffer),
                    max(0, int(fresh_free) - kept),
                )
            )  # fmt: skip
    return {code: sku_atp(code, per_sku[code]) for code in names.values()}


def sku_atp(code: str, at: list[LocationAtp]) -> SkuAtp:
    """A SKU's ATP: its locations' and the totals."""
    return SkuAtp(
        sku=code,
        on_hand=sum(x.on_hand for x in at),
        allocated=sum(x.allocated for x in at),
        available=sum(x.available for x in at),
        locations=tuple(at),
    )


def atp_query(today: date, scope: Scope) -> Select[Any]:
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
