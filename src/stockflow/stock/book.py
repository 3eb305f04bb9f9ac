"""The stock book: every position with free stock of some SKUs, read (and locked) in one go.

Every allocation plans against a book loaded here: reservations, order
capture and backorder fills. Locked, its positions are taken in the one lock
order (sku, location), so no two allocating transactions deadlock.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, select

from stockflow.adapters import driver
from stockflow.adapters.tables import (
    bins,
    locations,
    lots,
    positions,
    ring_fences,
    skus,
    stock_buffers,
)
from stockflow.stock import lookup
from stockflow.stock.locks import in_lock_order
from stockflow.stock.rules.allocation import Candidate, StockBook
from stockflow.stock.rules.places import SELLABLE_BIN_ROLES, SELLABLE_KINDS


def _book_query(dialect: str, lock: bool) -> Select[Any]:
    """Every position with free stock of the SKUs in list parameter ``codes``, joined to them."""
    wanted = select(skus.c.id).where(driver.in_list(skus.c.code, "codes", dialect))
    free = (
        select(
            positions.c.id,
            positions.c.sku_id,
            positions.c.location_id,
            positions.c.lot_code,
            positions.c.on_hand,
            positions.c.allocated,
            locations.c.code.label("location_code"),
            bins.c.code.label("bin_code"),
            lots.c.expires_on,
            stock_buffers.c.qty.label("buffer"),
        )
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
            positions.c.sku_id.in_(wanted),
            positions.c.on_hand - positions.c.allocated > 0,
            locations.c.kind.in_(sorted(SELLABLE_KINDS)),
            bins.c.role.in_(sorted(SELLABLE_BIN_ROLES)),
        )
    )
    locked = (in_lock_order(free) if lock else free).cte("locked")
    return (
        select(skus.c.id.label("sku_id"), skus.c.code, skus.c.active, skus.c.lot_tracked, locked)
        .select_from(skus.outerjoin(locked, locked.c.sku_id == skus.c.id))
        .where(driver.in_list(skus.c.code, "codes", dialect))
    )


def _locked_book_query(dialect: str) -> Select[Any]:
    return _book_query(dialect, True)


def _free_book_query(dialect: str) -> Select[Any]:
    return _book_query(dialect, False)


def _fence_query(dialect: str) -> Select[Any]:
    """The channels' ring fences on the SKUs in list parameter ``codes``."""
    wanted = select(skus.c.id).where(driver.in_list(skus.c.code, "codes", dialect))
    return select(
        ring_fences.c.sku_id, ring_fences.c.location_id, ring_fences.c.channel_id, ring_fences.c.qty
    ).where(ring_fences.c.sku_id.in_(wanted), ring_fences.c.qty > 0)


def load_book(
    conn: Connection, sku_codes: set[str], today: date, *, lock: bool = False
) -> tuple[StockBook, dict[str, lookup.SkuRef]]:
    """Load every position with free stock of these SKUs; with ``lock``, lock them in lock order.

    One round trip: the (locking) select runs as a common table expression, and
    the outer query joins it to the SKUs, so a SKU without free stock still
    comes back (with no position) and unknown codes simply do not. A locked
    book also knows the channels' ring fences, read in the same round trip (an
    unlocked one may overstate what is free, which is safe for refusing, never
    for granting).
    """
    if not sku_codes:
        return StockBook([], buffers={}, today=today), {}
    dialect = conn.dialect.name
    params = {"codes": sorted(sku_codes)}
    if lock:
        rows, fence_rows = driver.fetch(
            conn,
            (driver.prepare(_locked_book_query, dialect, lists=["codes"]), params),
            (driver.prepare(_fence_query, dialect, lists=["codes"]), params),
        )
    else:
        [rows] = driver.fetch(
            conn, (driver.prepare(_free_book_query, dialect, lists=["codes"]), params)
        )
        fence_rows = []
    candidates = []
    buffers: dict[tuple[int, int], int] = {}
    refs: dict[str, lookup.SkuRef] = {}
    # Plain tuple unpacking: this loop sees every free position of a busy batch.
    for (sku_id, code, active, lot_tracked, pid, _, location_id, lot_code, on_hand, allocated,
         location_code, bin_code, expires_on, buffer) in rows:  # fmt: skip
        if code not in refs:
            refs[code] = lookup.SkuRef(sku_id, code, bool(active), bool(lot_tracked))
        if pid is None:
            continue
        if buffer:
            buffers[(sku_id, location_id)] = int(buffer)
        if isinstance(expires_on, str):  # SQLite keeps dates as ISO text
            expires_on = date.fromisoformat(expires_on)
        candidates.append(
            Candidate(
                pid,
                sku_id,
                location_id,
                location_code,
                bin_code,
                lot_code,
                expires_on,
                int(on_hand) - int(allocated),
            )
        )
    fences = {(sku, loc, channel): int(qty) for sku, loc, channel, qty in fence_rows}
    return StockBook(candidates, buffers=buffers, today=today, fences=fences), refs
