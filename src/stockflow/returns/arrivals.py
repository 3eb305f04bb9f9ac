"""Returned units arriving and being inspected, each step one ledger posting.

Units arrive with reason ``return`` into the location's returns bin: on hand,
but not available, since nobody has looked at them yet. Inspection moves them
on: restock to the SKU's shelf (available again), repair and quarantine to the
quarantine bin, scrap out of the books with the write-off reason. Each ledger
row carries ``rma:<id>:<line>`` as its reference, so the ledger alone says
which lot of which RMA line is where.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    bins,
    home_bins,
    locations,
    positions,
    rma_dispositions,
    rma_lines,
    skus,
    stock_moves,
)
from stockflow.errors import IdempotencyKeyReused, InactiveSku, InvalidInput
from stockflow.returns.authorisations import (
    announce,
    checked_lines,
    lock_rma,
    progress,
    set_return_status,
)
from stockflow.returns.rules import (
    Disposition,
    InspectReturn,
    ReceiveReturn,
    ReturnEvent,
    ReturnStatus,
    ReturnTooLarge,
    disposition,
    fully_dealt_with,
    next_return_status,
)
from stockflow.stock.bins import work_bin
from stockflow.stock.ledger import post_moves
from stockflow.stock.order_lifecycle import note
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.places import DEFAULT_BIN, BinRole
from stockflow.stock.rules.quantities import positive_quantity


@dataclass(frozen=True, slots=True)
class _RmaLine:
    line_no: int
    sku_id: int
    sku: str
    lot_tracked: bool
    active: bool
    qty: int
    received: int
    inspected: int


def _rma_lines(conn: Connection, rma_id: str) -> dict[int, _RmaLine]:
    rows = conn.execute(
        select(rma_lines, skus.c.code, skus.c.lot_tracked, skus.c.active)
        .join(skus, skus.c.id == rma_lines.c.sku_id)
        .where(rma_lines.c.rma_id == rma_id)
    )
    return {
        int(r.line_no): _RmaLine(
            int(r.line_no),
            int(r.sku_id),
            r.code,
            bool(r.lot_tracked),
            bool(r.active),
            int(r.qty),
            int(r.received_qty),
            int(r.inspected_qty),
        )
        for r in rows
    }


def _reference(rma_id: str, line_no: int) -> str:
    return f"rma:{rma_id}:{line_no}"


def _move_key(key: str | None, n: int) -> str | None:
    """The ledger key of move ``n`` of a keyed request (None without a key).

    Hashed so that any request key fits the column and cannot collide with a
    key sent for a plain stock move.
    """
    if key is None:
        return None
    return f"rma:{hashlib.sha256(f'{key}|{n}'.encode()).hexdigest()[:40]}"


def _replayed(conn: Connection, key: str | None, expected: Sequence[tuple[str, int, str]]) -> bool:
    """Whether this keyed request was done before; ``IdempotencyKeyReused`` if not like this.

    ``expected`` is (reference, qty, reason) of each move the request posts.
    """
    if key is None:
        return False
    # One key more than moves: a first request with more lines is a different request.
    keys = [str(_move_key(key, n)) for n in range(len(expected) + 1)]
    found = {
        r.idempotency_key: (r.reference, int(r.qty), r.reason)
        for r in conn.execute(
            select(
                stock_moves.c.idempotency_key, stock_moves.c.reference, stock_moves.c.qty,
                stock_moves.c.reason,
            ).where(among(stock_moves.c.idempotency_key, keys))
        )
    }  # fmt: skip
    if not found:
        return False
    if [found.get(k) for k in keys] != [*expected, None]:
        raise IdempotencyKeyReused(key)
    return True


def _location_code(conn: Connection, location_id: int) -> str:
    return str(
        conn.execute(select(locations.c.code).where(locations.c.id == location_id)).scalar_one()
    )


# --- receiving ------------------------------------------------------------------


def receive_return(
    conn: Connection, cmd: ReceiveReturn, *, now: datetime, scope: Scope = EVERYWHERE
) -> bool:
    """Book arrived units into the returns bin, all lines or none; whether it is a replay."""
    checked_lines(cmd.lines)
    head = lock_rma(conn, cmd.rma_id, scope=scope)
    expected = [(_reference(cmd.rma_id, w.line_no), w.qty, Reason.RETURN.value) for w in cmd.lines]
    if _replayed(conn, cmd.idempotency_key, expected):
        return True
    status = next_return_status(head.status, ReturnEvent.RECEIVE)
    lines = _rma_lines(conn, cmd.rma_id)
    lots = [_arrival_lot(lines, i, w.line_no, w.qty, w.lot) for i, w in enumerate(cmd.lines)]
    _, bin_code = work_bin(conn, int(head.location_id), BinRole.RETURNS)
    here = _location_code(conn, int(head.location_id))
    post_moves(
        conn,
        [
            PostMove(
                sku=lines[w.line_no].sku,
                qty=w.qty,
                reason=Reason.RETURN.value,
                target=Place(here, bin_code, lot),
                actor=cmd.actor,
                reference=_reference(cmd.rma_id, w.line_no),
                idempotency_key=_move_key(cmd.idempotency_key, i),
            )
            for i, (w, lot) in enumerate(zip(cmd.lines, lots, strict=True))
        ],
        now=now,
    )
    _count_arrivals(conn, cmd)
    set_return_status(conn, cmd.rma_id, status, now)
    units = sum(w.qty for w in cmd.lines)
    note(conn, head.order_id, f"return {cmd.rma_id}: {units} unit(s) arrived at {here}",
         actor=cmd.actor, now=now)  # fmt: skip
    announce(conn, "received", rma_id=cmd.rma_id, order_id=head.order_id, now=now, units=units)
    return False


def _count_arrivals(conn: Connection, cmd: ReceiveReturn) -> None:
    for w in cmd.lines:
        # Checked under the RMA lock; the CHECK (received <= qty) backs that up.
        conn.execute(
            update(rma_lines)
            .where(rma_lines.c.rma_id == cmd.rma_id, rma_lines.c.line_no == w.line_no)
            .values(received_qty=rma_lines.c.received_qty + w.qty)
        )


def _arrival_lot(
    lines: dict[int, _RmaLine], i: int, line_no: int, qty: int, lot: str | None
) -> str | None:
    """The checked lot of one arriving line; the line may take this many more units."""
    line = lines.get(line_no)
    if line is None:
        have = ", ".join(str(n) for n in sorted(lines))
        raise InvalidInput(f"the RMA has no line {line_no}; it has {have}",
                           field=f"lines[{i}].line_no")  # fmt: skip
    left = line.qty - line.received
    if qty > left:
        raise ReturnTooLarge(
            f"line {line_no} ({line.sku}): {line.qty} authorised, {line.received} arrived"
            f" already; at most {left} more may arrive, not {qty}",
            allowed=left,
            field=f"lines[{i}].qty",
        )
    if not line.active:
        raise InactiveSku(f"SKU {line.sku} is inactive: switch it on to take units back",
                          field=f"lines[{i}].line_no")  # fmt: skip
    return _lot_for(line, lot, field=f"lines[{i}].lot")


def _lot_for(line: _RmaLine, lot: str | None, *, field: str) -> str | None:
    """``lot`` stripped; a lot-tracked SKU needs one, any other takes none."""
    code = (lot or "").strip() or None
    if line.lot_tracked and code is None:
        raise InvalidInput(f"SKU {line.sku} is lot-tracked: say which lot", field=field)
    if code is not None and not line.lot_tracked:
        raise InvalidInput(f"SKU {line.sku} is not lot-tracked: leave the lot empty", field=field)
    return code


# --- inspecting -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inspected:
    """What an inspection did: the SKU, its disposition, and whether it was a replay."""

    sku: str
    disposition: Disposition
    replayed: bool


def inspect_return(
    conn: Connection, cmd: InspectReturn, *, now: datetime, scope: Scope = EVERYWHERE
) -> Inspected:
    """Give arrived units of one RMA line their disposition and move them accordingly.

    The RMA closes itself once everything authorised has arrived and been inspected.
    """
    kind = disposition(cmd.disposition)
    qty = positive_quantity(cmd.qty, field="qty")
    why = (cmd.note or "").strip() or None
    if kind is Disposition.SCRAP and why is None:
        raise InvalidInput("scrap needs a note saying why the units are written off", field="note")
    head = lock_rma(conn, cmd.rma_id, scope=scope)
    line = _rma_lines(conn, cmd.rma_id).get(cmd.line_no)
    if line is None:
        raise InvalidInput(f"RMA {cmd.rma_id} has no line {cmd.line_no}", field="line_no")
    reason = Reason.SCRAP if kind is Disposition.SCRAP else Reason.MOVE
    expected = (_reference(cmd.rma_id, cmd.line_no), qty, reason.value)
    if _replayed(conn, cmd.idempotency_key, [expected]):
        if kind is Disposition.RESTOCK:
            # Nothing new to announce, but the first attempt may have committed and
            # died before waiting orders got their chance: they get it again.
            record(conn, StockFreed.of([line.sku], "return"), now=now, publish=False)
        return Inspected(line.sku, kind, replayed=True)
    next_return_status(head.status, ReturnEvent.INSPECT)
    lot = _inspection_lot(conn, line, expected[0], cmd.lot, qty)
    source, target = _disposition_ends(conn, int(head.location_id), line, kind, lot)
    post_moves(conn, [
        PostMove(
            sku=line.sku, qty=qty, reason=reason.value, source=source, target=target,
            actor=cmd.actor, reference=expected[0], note=_move_note(kind, why),
            idempotency_key=_move_key(cmd.idempotency_key, 0),
        )
    ], now=now)  # fmt: skip
    _record_disposition(conn, cmd, kind, qty=qty, note_text=why, now=now)
    announce(conn, "inspected", rma_id=cmd.rma_id, order_id=head.order_id, now=now,
             line_no=line.line_no, sku=line.sku, lot=lot, disposition=kind.value, qty=qty,
             location=_location_code(conn, int(head.location_id)))  # fmt: skip
    _close_when_done(conn, head.order_id, cmd, now=now)
    if kind is Disposition.RESTOCK:
        record(conn, StockFreed.of([line.sku], "return"), now=now)
    return Inspected(line.sku, kind, replayed=False)


def _close_when_done(conn: Connection, order_id: str, cmd: InspectReturn, *, now: datetime) -> None:
    """Close the RMA once everything authorised has arrived and every unit is inspected."""
    lines = progress(conn, cmd.rma_id)
    if not fully_dealt_with(lines):
        return
    status = next_return_status(ReturnStatus.RECEIVED.value, ReturnEvent.CLOSE)
    set_return_status(conn, cmd.rma_id, status, now)
    note(conn, order_id, f"return {cmd.rma_id} inspected in full and closed", actor=cmd.actor,
         now=now)  # fmt: skip
    announce(conn, "closed", rma_id=cmd.rma_id, order_id=order_id, now=now,
             units=sum(ln.received for ln in lines))  # fmt: skip


def _record_disposition(
    conn: Connection, cmd: InspectReturn, kind: Disposition, *, qty: int,
    note_text: str | None, now: datetime,
) -> None:  # fmt: skip
    # Checked under the RMA lock; the CHECK (inspected <= received) backs that up.
    conn.execute(
        update(rma_lines)
        .where(rma_lines.c.rma_id == cmd.rma_id, rma_lines.c.line_no == cmd.line_no)
        .values(inspected_qty=rma_lines.c.inspected_qty + qty)
    )
    conn.execute(
        rma_dispositions.insert().values(
            rma_id=cmd.rma_id, line_no=cmd.line_no, disposition=kind.value, qty=qty,
            note=note_text, actor=cmd.actor, at=now,
        )
    )  # fmt: skip


def _disposition_ends(
    conn: Connection, location_id: int, line: _RmaLine, kind: Disposition,
    lot: str | None,
) -> tuple[Place, Place | None]:  # fmt: skip
    """Where the units go from (the returns bin) and to (None for scrap: out of the books)."""
    here = _location_code(conn, location_id)
    _, returns_bin = work_bin(conn, location_id, BinRole.RETURNS)
    source = Place(here, returns_bin, lot)
    if kind is Disposition.RESTOCK:
        return source, Place(here, _shelf_bin(conn, line.sku_id, location_id), lot)
    if kind is Disposition.SCRAP:
        return source, None
    _, quarantine = work_bin(conn, location_id, BinRole.QUARANTINE)
    return source, Place(here, quarantine, lot)


def _move_note(kind: Disposition, note_text: str | None) -> str | None:
    if kind is Disposition.REPAIR:
        # Repairs share the quarantine bin; the note is how the floor tells them apart.
        return f"repair: {note_text}" if note_text else "repair"
    return note_text


def _shelf_bin(conn: Connection, sku_id: int, location_id: int) -> str:
    """The SKU's home bin at the location, else the location's default bin."""
    home = conn.execute(
        select(bins.c.code)
        .join(home_bins, home_bins.c.bin_id == bins.c.id)
        .where(home_bins.c.sku_id == sku_id, home_bins.c.location_id == location_id)
    ).scalar()
    return str(home) if home is not None else DEFAULT_BIN


def _inspection_lot(
    conn: Connection, line: _RmaLine, reference: str, lot: str | None, qty: int
) -> str | None:
    """The lot the inspected units are of: the one named, or the only one still waiting.

    Refuses more units than wait for inspection on the line (or in that lot).
    """
    left_on_line = line.received - line.inspected
    if qty > left_on_line:
        raise ReturnTooLarge(
            f"line {line.line_no} ({line.sku}): {left_on_line} unit(s) wait for inspection,"
            f" not {qty}",
            allowed=left_on_line,
            field="qty",
        )
    if not line.lot_tracked:
        return _lot_for(line, lot, field="lot")  # refuses a lot, gives None
    code = (lot or "").strip() or None
    left = _lots_waiting(conn, reference)
    if code is None:
        if len(left) != 1:
            waiting = ", ".join(f"{c} ({n})" for c, n in sorted(left.items()))
            raise InvalidInput(
                f"SKU {line.sku} is lot-tracked and line {line.line_no} waits with lots"
                f" {waiting}: say which",
                field="lot",
            )
        code = next(iter(left))
    if left.get(code, 0) < qty:
        raise ReturnTooLarge(
            f"line {line.line_no} has {left.get(code, 0)} uninspected unit(s) of lot {code},"
            f" not {qty}",
            allowed=left.get(code, 0),
            field="lot",
        )
    return code


def _lots_waiting(conn: Connection, reference: str) -> dict[str, int]:
    """Units per lot that arrived on an RMA line and have not been inspected, from the ledger."""
    out: dict[str, int] = {}
    for end, sign in ((stock_moves.c.to_position_id, 1), (stock_moves.c.from_position_id, -1)):
        reason = stock_moves.c.reason == Reason.RETURN.value
        for r in conn.execute(
            select(positions.c.lot_code, func.sum(stock_moves.c.qty).label("units"))
            .join(positions, positions.c.id == end)
            .where(stock_moves.c.reference == reference, reason if sign > 0 else ~reason)
            .group_by(positions.c.lot_code)
        ):
            out[r.lot_code] = out.get(r.lot_code, 0) + sign * int(r.units)
    return {code: n for code, n in out.items() if n > 0}
