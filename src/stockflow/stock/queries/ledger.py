"""The ledger as people read it: moves of a SKU, newest first, page by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, or_, select
from sqlalchemy.orm import aliased

from stockflow.adapters.exporting import Rows, each
from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.sets import among
from stockflow.adapters.tables import bins, locations, positions, skus, stock_moves
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.visibility import location_condition


@dataclass(frozen=True, slots=True)
class LedgerEnd:
    """Where a move came from or went to."""

    location: str
    bin: str
    lot: str | None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One move."""

    id: int
    sku: str
    qty: int
    reason: str
    source: LedgerEnd | None
    target: LedgerEnd | None
    actor: str
    reference: str | None
    note: str | None
    created_at: datetime


def ledger_rows(conn: Connection, ids: list[int]) -> list[LedgerRow]:
    """The moves with these ids, newest first."""
    if not ids:
        return []
    query = ledger_query().where(among(stock_moves.c.id, ids))
    return [ledger_row(r) for r in conn.execute(query.order_by(stock_moves.c.id.desc()))]


MOVES = Keyset("moves", Key(stock_moves.c.id, descending=True))


def ledger_page(
    conn: Connection,
    *,
    sku: str | None = None,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[LedgerRow]:
    """Up to ``limit`` moves (of one SKU, or all), newest first, after cursor ``after``.

    A move is the scope's when it left or reached a location the scope sees.
    """
    query = ledger_query(scope)
    if sku is not None:
        query = query.where(stock_moves.c.sku_id == lookup.sku_by_code(conn, sku).id)
    return MOVES.page(conn, query, after=after, limit=limit).map(ledger_row)


# The ledger as exported: oldest first, as it was written.
LEDGER = Keyset("ledger", stock_moves.c.id)
MOVE_COLUMNS = (
    "id", "created_at", "sku", "qty", "reason", "from_location", "from_bin", "from_lot",
    "to_location", "to_bin", "to_lot", "actor", "reference", "note",
)  # fmt: skip


def move_rows(scope: Scope = EVERYWHERE) -> Rows:
    """Every move the scope sees, for an export, oldest first."""
    return Rows(
        ledger_query(scope),
        LEDGER,
        each(lambda r: (
            int(r.id), r.created_at, r.sku, int(r.qty), r.reason, r.from_location, r.from_bin,
            r.from_lot or None, r.to_location, r.to_bin, r.to_lot or None, r.actor, r.reference,
            r.note,
        )),
    )  # fmt: skip


def ledger_query(scope: Scope = EVERYWHERE) -> Select[Any]:
    """Moves with the SKU, location, bin and lot of both ends, as the scope sees them; unordered."""
    ends = []
    for _ in range(2):
        p, loc, b = aliased(positions), aliased(locations), aliased(bins)
        ends.append((p, loc, b))
    (fp, fl, fb), (tp, tl, tb) = ends
    query = (
        select(
            stock_moves,
            skus.c.code.label("sku"),
            fl.c.code.label("from_location"),
            fb.c.code.label("from_bin"),
            fp.c.lot_code.label("from_lot"),
            tl.c.code.label("to_location"),
            tb.c.code.label("to_bin"),
            tp.c.lot_code.label("to_lot"),
        )
        .join(skus, skus.c.id == stock_moves.c.sku_id)
        .outerjoin(fp, fp.c.id == stock_moves.c.from_position_id)
        .outerjoin(fl, fl.c.id == fp.c.location_id)
        .outerjoin(fb, fb.c.id == fp.c.bin_id)
        .outerjoin(tp, tp.c.id == stock_moves.c.to_position_id)
        .outerjoin(tl, tl.c.id == tp.c.location_id)
        .outerjoin(tb, tb.c.id == tp.c.bin_id)
    )
    left = location_condition(scope, fp.c.location_id)
    reached = location_condition(scope, tp.c.location_id)
    if left is not None and reached is not None:
        query = query.where(or_(left, reached))
    return query


def ledger_row(r: Row[Any]) -> LedgerRow:
    """One row of ``ledger_query`` as a move."""
    return LedgerRow(
        id=int(r.id),
        sku=r.sku,
        qty=int(r.qty),
        reason=r.reason,
        source=LedgerEnd(r.from_location, r.from_bin, r.from_lot or None)
        if r.from_location
        else None,
        target=LedgerEnd(r.to_location, r.to_bin, r.to_lot or None) if r.to_location else None,
        actor=r.actor,
        reference=r.reference,
        note=r.note,
        created_at=r.created_at,
    )
