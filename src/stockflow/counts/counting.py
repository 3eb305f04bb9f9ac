"""Cycle counts: count the lines blind, decide the variances.

At submission the books are read under lock: that is the line's expected
quantity. A count within tolerance corrects the position at once through
``losses.correct_position`` (the one path that takes back promises a bin can
no longer keep); ``losses.after_loss`` tells the orders that lost units, and
reactions after commit find them stock. A variance outside tolerance waits,
with a ``count_variance`` exception, for a second person: approving posts the
variance recorded at count time against what is on hand *now* (stock may have
moved since), rejecting keeps the books. Every step locks the count row, so
steps on one count queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import bins, count_lines, cycle_counts, locations, skus
from stockflow.counts.queries import UnknownCount, count_seen
from stockflow.counts.rules import (
    CountStatus,
    Decide,
    IllegalCountStep,
    LineEvent,
    LineStatus,
    SamePerson,
    judge,
    next_line_status,
    settle,
)
from stockflow.errors import Conflict, InvalidInput, NotFound
from stockflow.stock import lookup
from stockflow.stock.bins import ensure_position
from stockflow.stock.exceptions import raise_exception, resolve_about
from stockflow.stock.locks import lock_positions
from stockflow.stock.losses import (
    Lost,
    after_loss,
    correct_position,
    lock_orders,
    orders_holding,
)
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.events import CountVariance, StockFreed
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.quantities import non_negative_quantity


@dataclass(frozen=True, slots=True)
class Decision:
    """What one step did to a line; ``added`` units came into stock (waiting orders want them)."""

    count_id: str
    line_no: int
    sku: str
    status: str
    added: int = 0
    lost: Lost | None = None  # orders the step took units from, to re-allocate after commit
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class _Count:
    id: str
    location_id: int
    location: str
    status: str
    tolerance: Decimal


@dataclass(frozen=True, slots=True)
class _Line:
    line_no: int
    bin_id: int
    bin: str
    sku_id: int
    sku: str
    lot: str
    status: str
    expected: int | None
    counted: int | None
    counted_by: str | None
    decided_by: str | None


# one count, locked -----------------------------------------------------------------------


def _lock_count(conn: Connection, count_id: str, scope: Scope) -> _Count:
    """Lock the count row: every step on one count queues here (one outside ``scope``: unknown)."""
    r = conn.execute(
        select(
            cycle_counts.c.id, cycle_counts.c.location_id, locations.c.code,
            cycle_counts.c.status, cycle_counts.c.tolerance_pct,
        )
        .join(locations, locations.c.id == cycle_counts.c.location_id)
        .where(cycle_counts.c.id == count_id, *count_seen(scope))
        .with_for_update(of=cycle_counts)
    ).first()  # fmt: skip
    if r is None:
        raise UnknownCount(f"no count {count_id!r}", field="count_id")
    return _Count(r.id, int(r.location_id), r.code, r.status, Decimal(r.tolerance_pct))


def _countable(count: _Count) -> None:
    if count.status not in (CountStatus.OPEN.value, CountStatus.PENDING_APPROVAL.value):
        raise IllegalCountStep(
            f"count {count.id} is {count.status}: start a new count", field="count_id"
        )


def _line(conn: Connection, count_id: str, line_no: int) -> _Line:
    r = conn.execute(
        select(count_lines, skus.c.code.label("sku"), bins.c.code.label("bin"))
        .join(skus, skus.c.id == count_lines.c.sku_id)
        .join(bins, bins.c.id == count_lines.c.bin_id)
        .where(count_lines.c.count_id == count_id, count_lines.c.line_no == line_no)
    ).first()
    if r is None:
        raise NotFound(f"count {count_id} has no line {line_no}", field="line_no")
    return _Line(
        int(r.line_no), int(r.bin_id), r.bin, int(r.sku_id), r.sku, r.lot_code, r.status,
        r.expected_qty, r.counted_qty, r.counted_by, r.decided_by,
    )  # fmt: skip


def _lock_position(
    conn: Connection, count: _Count, *, line: _Line, held: set[str]
) -> tuple[int, int]:
    """The line's position (created if new) and its on hand, locked after its orders.

    Orders holding units there are locked first, in id order, like on every
    other path that may take units back from them.
    """
    key = lookup.PositionKey(line.sku_id, count.location_id, line.bin_id, line.lot)
    position_id = ensure_position(conn, key)
    lock_orders(conn, orders_holding(conn, position_id), held)
    on_hand, _ = lock_positions(conn, {position_id})[position_id]
    return position_id, on_hand


def _correct(
    conn: Connection, count: _Count, *, position_id: int, target: int,
    held: set[str], actor: str, why: str, today: date, now: datetime,
) -> tuple[int, Lost | None]:  # fmt: skip
    """Set the position to ``target`` and tell orders that lost units; units added, and who lost.

    Finding those orders new stock, and offering units found to waiting orders,
    are reactions after commit: they lock positions this transaction may not
    take in lock order.
    """
    fix = correct_position(
        conn, position_id, target, actor=actor, reference=count.id, note_text=why, now=now,
        held=held,
    )  # fmt: skip
    lost = after_loss(
        conn, fix.taken, fix.position, kind=ExceptionKind.COUNT_VARIANCE, why=why, actor=actor,
        reference=count.id, today=today, now=now,
    )  # fmt: skip
    added = max(0, fix.after - fix.before)
    if added:
        record(conn, StockFreed.of([fix.position.sku], "count"), now=now)
    return added, lost if fix.taken else None


def _settle(conn: Connection, count: _Count, now: datetime) -> None:
    """Move the count on once its lines allow; a closed count's variance exceptions resolve."""
    statuses = conn.execute(
        select(count_lines.c.status).where(count_lines.c.count_id == count.id)
    ).scalars()
    status = settle(count.status, statuses, count_id=count.id)
    conn.execute(
        update(cycle_counts)
        .where(cycle_counts.c.id == count.id)
        .values(status=status.value, updated_at=now)
    )
    if status is CountStatus.CLOSED:
        resolve_about(
            conn, ExceptionKind.COUNT_VARIANCE, count.id, now, resolution="the count was closed"
        )


# counting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submit:
    """A counter's count of one line; ``retry`` answers a repeat of the same count as a replay."""

    count_id: str
    line_no: int
    counted: int
    actor: str
    retry: bool = False


def submit_line(
    conn: Connection, cmd: Submit, *, today: date, now: datetime, scope: Scope = EVERYWHERE
) -> Decision:
    """Record a blind count of one line and act on its variance."""
    counted = non_negative_quantity(cmd.counted, field="counted")
    count = _lock_count(conn, cmd.count_id, scope)
    line = _line(conn, cmd.count_id, cmd.line_no)
    if line.status != LineStatus.OPEN.value:
        if cmd.retry and (line.counted, line.counted_by) == (counted, cmd.actor):
            return Decision(count.id, line.line_no, line.sku, line.status, replayed=True)
        raise IllegalCountStep(
            f"line {line.line_no} of count {count.id} is counted already; recount with a new count",
            field="line_no",
        )
    _countable(count)
    return _record(conn, count, line=line, counted=counted, actor=cmd.actor, today=today, now=now)


def _record(
    conn: Connection, count: _Count, *, line: _Line, counted: int, actor: str,
    today: date, now: datetime,
) -> Decision:  # fmt: skip
    held: set[str] = set()
    position_id, on_hand = _lock_position(conn, count, line=line, held=held)
    event = judge(on_hand, counted, count.tolerance)
    status = next_line_status(line.status, event, line_no=line.line_no)
    added, lost = 0, None
    if event is LineEvent.ADJUST:
        why = f"count {count.id} line {line.line_no}: {counted} counted, {on_hand} on the books"
        added, lost = _correct(
            conn, count, position_id=position_id, target=counted, held=held, actor=actor,
            why=why, today=today, now=now,
        )  # fmt: skip
    elif event is LineEvent.HOLD:
        message = _variance_message(count, line, expected=on_hand, counted=counted)
        raise_exception(
            conn,
            ExceptionKind.COUNT_VARIANCE,
            message,
            now=now,
            sku_id=line.sku_id,
            reference=count.id,
            location_id=count.location_id,
        )
    if counted != on_hand:
        _announce(conn, count, line, expected=on_hand, counted=counted, status=status, now=now)
    conn.execute(
        update(count_lines)
        .where(count_lines.c.count_id == count.id, count_lines.c.line_no == line.line_no)
        .values(expected_qty=on_hand, counted_qty=counted, status=status.value,
                counted_by=actor, counted_at=now)
    )  # fmt: skip
    _settle(conn, count, now)
    return Decision(count.id, line.line_no, line.sku, status.value, added, lost)


def _announce(
    conn: Connection, count: _Count, line: _Line, *, expected: int, counted: int,
    status: LineStatus, now: datetime,
) -> None:  # fmt: skip
    """``count.variance``: a counted line differs from the books, and what became of it."""
    variance = CountVariance(
        count.id, line.line_no, count.location, line.bin, line.sku, line.lot or None,
        expected, counted, counted - expected, status.value,
    )  # fmt: skip
    record(conn, variance, now=now)


def _variance_message(count: _Count, line: _Line, *, expected: int, counted: int) -> str:
    lot = f" lot {line.lot}" if line.lot else ""
    return (
        f"count {count.id} line {line.line_no}: {line.sku}{lot} in {count.location}/{line.bin}: "
        f"books {expected}, counted {counted} ({counted - expected:+d}, outside the "
        f"{count.tolerance}% tolerance); approve or reject"
    )


@dataclass(frozen=True, slots=True)
class Found:
    """Stock found in a bin where the count has no line for it."""

    count_id: str
    bin: str
    sku: str
    counted: int
    actor: str
    lot: str | None = None
    retry: bool = False


def report_found(
    conn: Connection, cmd: Found, *, today: date, now: datetime, scope: Scope = EVERYWHERE
) -> Decision:
    """Add a line for a SKU (and lot) found in a bin of the count's location, and count it.

    A retry of a find already counted answers the line it made, even once the
    count has closed.
    """
    counted = non_negative_quantity(cmd.counted, field="counted")
    count = _lock_count(conn, cmd.count_id, scope)
    place = lookup.location_by_code(conn, count.location)
    bin_id = lookup.bin_id(conn, place, cmd.bin, field="bin")
    sku = lookup.sku_by_code(conn, cmd.sku)
    lot = (cmd.lot or "").strip()
    if sku.lot_tracked and not lot:
        raise InvalidInput(f"SKU {sku.code} is lot-tracked: say which lot", field="lot")
    if lot and not sku.lot_tracked:
        raise InvalidInput(f"SKU {sku.code} is not lot-tracked: leave the lot empty", field="lot")
    lines = conn.execute(
        select(count_lines.c.line_no, count_lines.c.bin_id, count_lines.c.sku_id,
               count_lines.c.lot_code, count_lines.c.counted_qty, count_lines.c.counted_by,
               count_lines.c.status)
        .where(count_lines.c.count_id == count.id)
    ).all()  # fmt: skip
    for r in lines:
        if (int(r.bin_id), int(r.sku_id), r.lot_code) != (bin_id, sku.id, lot):
            continue
        if cmd.retry and (r.counted_qty, r.counted_by) == (counted, cmd.actor):
            return Decision(count.id, int(r.line_no), sku.code, r.status, replayed=True)
        raise Conflict(f"line {r.line_no} is for {sku.code} there: count it on that line",
                       field="sku")  # fmt: skip
    _countable(count)
    line_no = max((int(r.line_no) for r in lines), default=0) + 1
    conn.execute(
        count_lines.insert().values(
            count_id=count.id, line_no=line_no, bin_id=bin_id, sku_id=sku.id, lot_code=lot,
            status=LineStatus.OPEN.value,
        )
    )  # fmt: skip
    line = _line(conn, count.id, line_no)
    return _record(conn, count, line=line, counted=counted, actor=cmd.actor, today=today, now=now)


# deciding ----------------------------------------------------------------------------------


def approve_line(
    conn: Connection, cmd: Decide, *, today: date, now: datetime, scope: Scope = EVERYWHERE
) -> Decision:
    """Post the variance found at count time against what is on hand now.

    Stock may have moved since the count: a variance of -3 counted against 10
    on the books still takes 3 units when 14 are on hand by the time of
    approval. If fewer than that are left, the position goes to zero.
    """
    count, line, replay = _to_decide(conn, cmd, LineStatus.APPROVED, scope)
    if replay is not None:
        return replay
    status = next_line_status(line.status, LineEvent.APPROVE, line_no=line.line_no)
    held: set[str] = set()
    position_id, on_hand = _lock_position(conn, count, line=line, held=held)
    variance = (line.counted or 0) - (line.expected or 0)
    target = max(0, on_hand + variance)
    why = (
        f"count {count.id} line {line.line_no} approved by {cmd.actor}: "
        f"variance {variance:+d} applied to {on_hand} on hand"
    )
    if target != on_hand + variance:
        why += f" (only {on_hand} left: set to 0)"
    added, lost = _correct(
        conn, count, position_id=position_id, target=target, held=held, actor=cmd.actor,
        why=why, today=today, now=now,
    )  # fmt: skip
    _decided(conn, count, line=line, status=status, actor=cmd.actor, now=now)
    _announce_decided(conn, count, line, status, now=now)
    return Decision(count.id, line.line_no, line.sku, status.value, added, lost)


def reject_line(
    conn: Connection, cmd: Decide, *, now: datetime, scope: Scope = EVERYWHERE
) -> Decision:
    """Keep the books as they are and close the line; a recount is a new count."""
    count, line, replay = _to_decide(conn, cmd, LineStatus.REJECTED, scope)
    if replay is not None:
        return replay
    status = next_line_status(line.status, LineEvent.REJECT, line_no=line.line_no)
    _decided(conn, count, line=line, status=status, actor=cmd.actor, now=now)
    _announce_decided(conn, count, line, status, now=now)
    return Decision(count.id, line.line_no, line.sku, status.value)


def _announce_decided(
    conn: Connection, count: _Count, line: _Line, status: LineStatus, *, now: datetime
) -> None:
    """A person decided on a variance held for approval: ``count.variance`` says how."""
    expected, counted = line.expected or 0, line.counted or 0
    if expected != counted:
        _announce(conn, count, line, expected=expected, counted=counted, status=status, now=now)


def _to_decide(
    conn: Connection, cmd: Decide, outcome: LineStatus, scope: Scope
) -> tuple[_Count, _Line, Decision | None]:
    """The locked count and its line; a replay when this decision was taken already."""
    count = _lock_count(conn, cmd.count_id, scope)
    line = _line(conn, cmd.count_id, cmd.line_no)
    if cmd.retry and line.status == outcome.value and line.decided_by == cmd.actor:
        return count, line, Decision(count.id, line.line_no, line.sku, line.status, replayed=True)
    _countable(count)
    if line.status == LineStatus.PENDING_APPROVAL.value and line.counted_by == cmd.actor:
        raise SamePerson(
            f"{cmd.actor} counted line {line.line_no}: another person decides on it",
            field="actor",
        )
    return count, line, None


def _decided(
    conn: Connection, count: _Count, *, line: _Line, status: LineStatus, actor: str,
    now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        update(count_lines)
        .where(count_lines.c.count_id == count.id, count_lines.c.line_no == line.line_no)
        .values(status=status.value, decided_by=actor, decided_at=now)
    )
    _settle(conn, count, now)
