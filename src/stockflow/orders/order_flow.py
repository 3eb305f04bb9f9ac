"""What happens to an order after capture: holds released, re-allocation, cancellation."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import (
    exceptions,
    order_lines,
    orders,
)
from stockflow.errors import InvalidInput
from stockflow.orders.backorders import holdings
from stockflow.stock.bins import staged
from stockflow.stock.closing import Closing, close_lines
from stockflow.stock.exceptions import raise_exception, resolve_exceptions
from stockflow.stock.order_events import OrderScope, order_scope
from stockflow.stock.order_lifecycle import lock_order, note, set_status, settle_status
from stockflow.stock.queries.orders import OrderView, load_order
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import CloseLines
from stockflow.stock.rules.events import HoldReleased, OrderCancelled, OrderReallocated
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.order_lifecycle import (
    WAITING,
    IllegalTransition,
    OrderEvent,
    OrderStatus,
    next_status,
    status_after_allocation,
)


def cancel_order(
    conn: Connection, order_id: str, *, reason: str, actor: str, now: datetime,
    line_no: int | None = None, scope: Scope = EVERYWHERE,
) -> OrderView:  # fmt: skip
    """Cancel a whole order (or one line); every unit it held is released in this transaction.

    The units that came free go to waiting orders once this commits. Cancelling
    the line an all-or-nothing order was waiting for may let the rest of it go
    now, so a still-waiting order gets its chance too. An order the scope does
    not see is unknown (as it is for every change below).
    """
    status = lock_order(conn, order_id, scope=scope)
    view = load_order(conn, order_id)
    told = order_scope(conn, order_id)  # before its units go: who held them hears of it
    lines = [ln for ln in view.lines if line_no is None or ln.line_no == line_no]
    if line_no is not None and not lines:
        raise InvalidInput(f"order {order_id} has no line {line_no}", field="line_no")
    new_status = next_status(status, OrderEvent.CANCEL)
    freed: set[str] = set()
    # Parts count too: a kit line may hold components of kits it cannot complete.
    held, _ = holdings(conn, [view.reservation_id])
    if any(q and (line_no is None or key[1] == line_no) for key, q in held.items()):
        _ask_to_put_back(conn, order_id, line_no, now)
        released = close_lines(
            conn,
            CloseLines(
                view.reservation_id, actor=actor, reference=f"cancel:{order_id}", line_no=line_no
            ),
            Closing.RELEASE,
            now=now,
        )
        freed = {a.sku for a in released.allocations if a.released}
    for ln in lines:
        conn.execute(
            update(order_lines)
            .where(order_lines.c.order_id == order_id, order_lines.c.line_no == ln.line_no)
            .values(cancelled_qty=ln.qty - ln.shipped)
        )
    whole = line_no is None or all(
        ln.line_no == line_no or ln.cancelled >= ln.qty for ln in view.lines
    )
    what = "order" if line_no is None else f"line {line_no}"
    note(conn, order_id, f"{what} cancelled: {reason}", actor=actor, now=now)
    if whole:
        set_status(conn, order_id, new_status, now)
        resolve_exceptions(conn, order_id, _MOOT, now, resolution="the order was cancelled")
    else:
        settle_status(conn, order_id, now)
    return _cancelled(conn, order_id, line_no, freed, told, now=now)


_MOOT = (
    ExceptionKind.ATP_FAILURE,
    ExceptionKind.ORDER_ON_HOLD,
    ExceptionKind.STUCK_ORDER,
    ExceptionKind.LATE_BACKORDER,
)
"""What nobody need look at once the whole order is cancelled."""


def _cancelled(
    conn: Connection, order_id: str, line_no: int | None, freed: set[str], told: OrderScope,
    *, now: datetime,
) -> OrderView:  # fmt: skip
    """Record ``order.cancelled`` (naming the sites that held its units); the order now."""
    after = load_order(conn, order_id)
    waiting = tuple(sorted(ln.sku for ln in after.lines if ln.waiting))
    cancelled = OrderCancelled(
        order_id, line_no, tuple(sorted(freed)), waiting, after.status,
        channel=told.channel, sites=told.sites,
    )  # fmt: skip
    record(conn, cancelled, now=now)
    return after


def release_hold(
    conn: Connection, order_id: str, *, actor: str, now: datetime, scope: Scope = EVERYWHERE
) -> OrderView:
    """A person has looked at a held order and lets it go on."""
    status = lock_order(conn, order_id, scope=scope)
    if status != OrderStatus.ON_HOLD.value:
        raise IllegalTransition(f"order {order_id} is not on hold", field="status")
    view = load_order(conn, order_id)
    ordered = sum(ln.qty - ln.cancelled for ln in view.lines)
    held = sum(ln.allocated for ln in view.lines)
    new = next_status(status, status_after_allocation(ordered=ordered, allocated=held))
    conn.execute(update(orders).where(orders.c.id == order_id).values(hold_reason=None))
    set_status(conn, order_id, new, now)
    note(conn, order_id, "hold released", actor=actor, now=now)
    resolve_exceptions(
        conn, order_id, (ExceptionKind.ORDER_ON_HOLD,), now, resolution="the hold was released"
    )
    after = load_order(conn, order_id)
    waiting = tuple(sorted(ln.sku for ln in after.lines if ln.waiting))
    told = order_scope(conn, order_id)
    released = HoldReleased(order_id, waiting, after.status, channel=told.channel, sites=told.sites)
    record(conn, released, now=now)
    return after


def reallocate_order(
    conn: Connection, order_id: str, *, actor: str, now: datetime, scope: Scope = EVERYWHERE
) -> OrderView:
    """Give an order back what it holds and allocate it afresh under today's rules.

    The units go back into the queue first, so waiting orders of higher priority
    (or older) get their turn before this one, exactly as for any freed stock:
    the fill runs once this has committed.
    """
    status = lock_order(conn, order_id, scope=scope)
    event_status = next_status(status, OrderEvent.BACKORDER)  # refuses shipped, cancelled...
    view = load_order(conn, order_id)
    told = order_scope(conn, order_id)  # before its units go: who held them hears of it
    freed: set[str] = set()
    if any(ln.allocated for ln in view.lines):
        released = close_lines(
            conn,
            CloseLines(view.reservation_id, actor=actor, reference=f"reallocate:{order_id}"),
            Closing.RELEASE,
            now=now,
        )
        freed = {a.sku for a in released.allocations if a.released}
    set_status(conn, order_id, event_status, now)
    note(conn, order_id, "re-allocation requested", actor=actor, now=now)
    wanted = freed | {ln.sku for ln in view.lines if ln.qty > ln.cancelled + ln.shipped}
    again = OrderReallocated(
        order_id, tuple(sorted(wanted)), channel=told.channel, sites=told.sites
    )
    record(conn, again, now=now)
    return load_order(conn, order_id)


def reject_order(
    conn: Connection, order_id: str, *, reason: str, actor: str, now: datetime,
    scope: Scope = EVERYWHERE,
) -> OrderView:  # fmt: skip
    """A person has looked at a held order and turns it down: it is cancelled."""
    status = lock_order(conn, order_id, scope=scope)
    if status != OrderStatus.ON_HOLD.value:
        raise IllegalTransition(f"order {order_id} is not on hold", field="status")
    return cancel_order(conn, order_id, reason=f"rejected: {reason}", actor=actor, now=now)


def flag_late_and_stuck(conn: Connection, *, today: date, now: datetime, stuck_hours: int) -> int:
    """Raise exceptions for backorders past their promise date and orders with no progress."""
    raised = 0
    late = conn.execute(
        select(orders.c.id, orders.c.promise_date).where(
            orders.c.status.in_(WAITING), orders.c.promise_date < today
        )
    ).all()
    cutoff = now.timestamp() - stuck_hours * 3600
    open_states = [
        s.value
        for s in (
            OrderStatus.ON_HOLD,
            OrderStatus.ALLOCATED,
            *map(OrderStatus, WAITING),
            OrderStatus.RELEASED,
            OrderStatus.PICKING,
            OrderStatus.PACKED,
        )
    ]
    stuck = [
        r
        for r in conn.execute(
            select(orders.c.id, orders.c.updated_at).where(orders.c.status.in_(open_states))
        )
        if r.updated_at.timestamp() < cutoff
    ]
    existing = defaultdict(set)
    for r in conn.execute(
        select(exceptions.c.order_id, exceptions.c.kind).where(exceptions.c.state != "resolved")
    ):
        existing[r.order_id].add(r.kind)
    rows = []
    for r in late:
        if ExceptionKind.LATE_BACKORDER not in existing[r.id]:
            rows.append(
                (
                    ExceptionKind.LATE_BACKORDER,
                    r.id,
                    f"backorder promised for {r.promise_date} is late",
                )
            )
    for r in stuck:
        if ExceptionKind.STUCK_ORDER not in existing[r.id]:
            rows.append(
                (ExceptionKind.STUCK_ORDER, r.id, f"no progress for over {stuck_hours} hours")
            )
    for kind, oid, message in rows:
        raise_exception(conn, kind, message, now=now, order_id=oid)
        raised += 1
    return raised


def _ask_to_put_back(conn: Connection, order_id: str, line_no: int | None, now: datetime) -> None:
    """Units picked for a cancelled order wait in a staging bin: someone must put them away."""
    picked: dict[tuple[str, int], int] = defaultdict(int)
    for s in staged(conn, order_id):
        if line_no is None or s.line_no == line_no:
            picked[(s.sku, s.location_id)] += s.held
    for (sku, location_id), qty in sorted(picked.items()):
        raise_exception(
            conn, ExceptionKind.PUT_BACK,
            f"{qty} x {sku} picked for cancelled order {order_id} wait in staging: put them away",
            now=now, order_id=order_id, reference=f"cancel:{order_id}", location_id=location_id,
        )  # fmt: skip
