"""Posting stock moves: receipts, put-aways, adjustments, scrap, transfers.

``post_moves`` is the one way stock changes outside reservations. It takes a
list of moves, set-based: every code is looked up once, every position is
locked once (in lock order), the moves are checked in order against what is
free, and then one statement raises or lowers the positions and one writes
the ledger rows. A single move from the API and 20,000 rows of opening stock
go through the same checks and the same statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, insert, select

from stockflow.adapters import bulk
from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import positions, stock_moves
from stockflow.errors import IdempotencyKeyReused, InsufficientStock
from stockflow.stock.changes import touched
from stockflow.stock.locks import lock_positions
from stockflow.stock.move_ends import End, Resolver, about_row
from stockflow.stock.queries.ledger import LedgerEnd, LedgerRow, ledger_rows
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.moves import Direction, posting_rule
from stockflow.stock.rules.quantities import positive_quantity


@dataclass(frozen=True, slots=True)
class MoveRecord:
    """One posted ledger row, as the caller sees it."""

    id: int
    sku: str
    qty: int
    reason: str
    source: Place | None
    target: Place | None
    actor: str
    reference: str | None
    note: str | None
    created_at: datetime
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    cmd: PostMove
    qty: int
    reason: str
    sku_id: int
    sku: str
    source: End | None
    target: End | None


def book_move(conn: Connection, cmd: PostMove, *, now: datetime) -> MoveRecord:
    """Post one move a person asked for; units landing in a position may fill waiting orders."""
    posted = post_move(conn, cmd, now=now)
    if posted.target is not None and not posted.replayed:
        record(conn, StockFreed.of([posted.sku], "move"), now=now)
    return posted


def post_move(conn: Connection, cmd: PostMove, *, now: datetime) -> MoveRecord:
    """Post one move inside the caller's transaction."""
    return post_moves(conn, [cmd], now=now)[0]


def post_moves(
    conn: Connection,
    cmds: Sequence[PostMove],
    *,
    now: datetime,
    rows: Sequence[int] | None = None,
) -> list[MoveRecord]:
    """Post every move or none, in order, inside the caller's transaction.

    ``rows`` are the file rows the moves came from; an error then names its row.
    """
    replays = _replays(conn, cmds)
    fresh = [(i, c) for i, c in enumerate(cmds) if c.idempotency_key not in replays]
    checked = _check(conn, fresh, rows)
    ids = _post(conn, checked, rows, now=now)
    posted = iter(zip(checked, ids, strict=True))
    out: list[MoveRecord] = []
    by_key: dict[str, MoveRecord] = dict(replays)
    for cmd in cmds:
        key = cmd.idempotency_key
        if key is not None and key in by_key:
            earlier = by_key[key]
            if (earlier.sku, earlier.qty, earlier.reason) != (cmd.sku, cmd.qty, cmd.reason):
                raise IdempotencyKeyReused(key)
            out.append(replace(earlier, replayed=True))
            continue
        move, move_id = next(posted)
        record = _record(move, move_id, now)
        if key is not None:
            by_key[key] = record
        out.append(record)
    return out


def _check(
    conn: Connection, fresh: list[tuple[int, PostMove]], rows: Sequence[int] | None
) -> list[_Checked]:
    """Validate every move and resolve its ends; positions are created where stock may land."""
    rules = []
    for index, cmd in fresh:
        with about_row(index, rows):
            qty = positive_quantity(cmd.qty, field="qty")
            rule = posting_rule(
                cmd.reason, has_from=cmd.source is not None, has_to=cmd.target is not None,
                note=cmd.note,
            )  # fmt: skip
        rules.append((index, cmd, qty, rule))
    resolver = Resolver.load(conn, [cmd for _, cmd in fresh])
    checked = []
    for index, cmd, qty, rule in rules:
        with about_row(index, rows):
            sku = resolver.sku(cmd.sku, active=rule.direction is Direction.IN)
            source = resolver.end(cmd.source, sku, field="from")
            target = resolver.end(cmd.target, sku, field="to")
            if target is not None:
                resolver.note_lot(sku, target, cmd.lot_expires_on, index)
        checked.append(
            _Checked(index, cmd, qty, rule.reason.value, sku.id, sku.code, source, target)
        )
    resolver.save_lots(conn, rows)
    resolver.place_positions(conn)
    return checked


def _post(
    conn: Connection, checked: list[_Checked], rows: Sequence[int] | None, *, now: datetime
) -> list[int]:
    """Check the moves in order against the locked positions, then write them all; the new ids."""
    if not checked:
        return []
    ends = [e for c in checked for e in (c.source, c.target) if e is not None]
    locked = lock_positions(conn, {e.position_id for e in ends if e.position_id})
    free = {pid: on_hand - allocated for pid, (on_hand, allocated) in locked.items()}
    delta: dict[int, int] = defaultdict(int)
    for move in checked:
        if move.source is not None:
            pid = move.source.position_id or 0  # 0: no such position, nothing free
            if free.get(pid, 0) < move.qty and not move.source.location.allow_negative:
                with about_row(move.index, rows):
                    raise InsufficientStock(
                        sku=move.sku,
                        requested=move.qty,
                        available=max(free.get(pid, 0), 0),
                        location=move.source.place.location,
                        field="qty",
                    )
            free[pid] = free.get(pid, 0) - move.qty
            delta[pid] -= move.qty
        if move.target is not None and move.target.position_id is not None:
            pid = move.target.position_id
            free[pid] = free.get(pid, 0) + move.qty
            delta[pid] += move.qty
    changed = {pid: {"on_hand": d} for pid, d in delta.items() if d}
    bulk.write(conn, bulk.Increment(positions, changed))
    touched(conn, changed, now=now)
    result = conn.execute(
        insert(stock_moves).returning(stock_moves.c.id, sort_by_parameter_order=True),
        [
            {
                "sku_id": m.sku_id,
                "qty": m.qty,
                "from_position_id": m.source.position_id if m.source else None,
                "to_position_id": m.target.position_id if m.target else None,
                "reason": m.reason,
                "actor": m.cmd.actor,
                "reference": m.cmd.reference,
                "note": m.cmd.note,
                "idempotency_key": m.cmd.idempotency_key,
                "created_at": now,
            }
            for m in checked
        ],
    )
    return [int(i) for i in result.scalars()]


def _record(move: _Checked, move_id: int, now: datetime) -> MoveRecord:
    return MoveRecord(
        id=move_id,
        sku=move.sku,
        qty=move.qty,
        reason=move.reason,
        source=move.source.place if move.source else None,
        target=move.target.place if move.target else None,
        actor=move.cmd.actor,
        reference=move.cmd.reference,
        note=move.cmd.note,
        created_at=now,
    )


def _replays(conn: Connection, cmds: Sequence[PostMove]) -> dict[str, MoveRecord]:
    """Moves already posted under these idempotency keys, as they were stored."""
    keys = sorted({c.idempotency_key for c in cmds if c.idempotency_key})
    if not keys:
        return {}
    found = conn.execute(
        select(stock_moves.c.id, stock_moves.c.idempotency_key).where(
            among(stock_moves.c.idempotency_key, keys)
        )
    ).all()
    rows = {r.id: r for r in ledger_rows(conn, [int(f.id) for f in found])}
    return {f.idempotency_key: _from_ledger(rows[f.id]) for f in found}


def _from_ledger(row: LedgerRow) -> MoveRecord:
    def place(end: LedgerEnd | None) -> Place | None:
        return None if end is None else Place(end.location, end.bin, end.lot)

    return MoveRecord(
        id=row.id,
        sku=row.sku,
        qty=row.qty,
        reason=row.reason,
        source=place(row.source),
        target=place(row.target),
        actor=row.actor,
        reference=row.reference,
        note=row.note,
        created_at=row.created_at,
        replayed=True,
    )
