"""What happens to an order after capture: holds released, cancellations, backorder fills."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, or_, select, update

from stockflow.adapters import bulk
from stockflow.adapters.tables import (
    allocations,
    channels,
    exceptions,
    kit_components,
    locations,
    order_decisions,
    order_lines,
    orders,
    positions,
    reservations,
)
from stockflow.adapters.tables import skus as sku_table
from stockflow.domain.allocation import StockBook
from stockflow.domain.commands import CaptureOrder, CloseLines, OrderLineIn
from stockflow.domain.errors import InvalidInput
from stockflow.domain.fulfilment import Need, Site, plan_order
from stockflow.domain.orders import (
    ChannelRules,
    IllegalTransition,
    OrderEvent,
    OrderStatus,
    next_status,
    status_after_allocation,
)
from stockflow.domain.places import SELLABLE_KINDS
from stockflow.queries.orders import OrderView, UnknownOrder, load_order, load_orders
from stockflow.services import order_writes
from stockflow.services.closing import Closing, close_lines
from stockflow.services.order_refs import OrderRefs
from stockflow.services.reservations import load_book

WAITING = (OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_ALLOCATED.value)


def _lock_order(conn: Connection, order_id: str) -> str:
    """Lock the order row (every change to an order queues here); its status."""
    status = conn.execute(
        select(orders.c.status).where(orders.c.id == order_id).with_for_update()
    ).scalar()
    if status is None:
        raise UnknownOrder(f"no order {order_id!r}", field="order_id")
    return str(status)


def _note(conn: Connection, order_id: str, message: str, *, actor: str, now: datetime) -> None:
    conn.execute(
        order_decisions.insert().values(order_id=order_id, at=now, actor=actor, message=message)
    )


def _set_status(conn: Connection, order_id: str, status: OrderStatus, now: datetime) -> None:
    conn.execute(
        update(orders).where(orders.c.id == order_id).values(status=status.value, updated_at=now)
    )


def resolve_exceptions(
    conn: Connection, order_id: str, kinds: tuple[str, ...], now: datetime
) -> None:
    """Mark an order's open exceptions of these kinds resolved."""
    conn.execute(
        update(exceptions)
        .where(
            exceptions.c.order_id == order_id,
            exceptions.c.kind.in_(kinds),
            exceptions.c.state != "resolved",
        )
        .values(state="resolved", updated_at=now)
    )


def cancel_order(
    conn: Connection, order_id: str, *, reason: str, actor: str, now: datetime,
    line_no: int | None = None,
) -> tuple[OrderView, set[str]]:  # fmt: skip
    """Cancel a whole order (or one line); every unit it held is released in this transaction.

    Returns the order and the SKUs that came free, for backorders to claim.
    """
    status = _lock_order(conn, order_id)
    view = load_order(conn, order_id)
    lines = [ln for ln in view.lines if line_no is None or ln.line_no == line_no]
    if line_no is not None and not lines:
        raise InvalidInput(f"order {order_id} has no line {line_no}", field="line_no")
    new_status = next_status(status, OrderEvent.CANCEL)
    freed: set[str] = set()
    # Parts count too: a kit line may hold components of kits it cannot complete.
    held, _ = _holdings(conn, [view.reservation_id])
    if any(q and (line_no is None or key[1] == line_no) for key, q in held.items()):
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
    _note(conn, order_id, f"{what} cancelled: {reason}", actor=actor, now=now)
    if whole:
        _set_status(conn, order_id, new_status, now)
        resolve_exceptions(
            conn, order_id, ("atp_failure", "order_on_hold", "stuck_order", "late_backorder"), now
        )
    else:
        _settle_status(conn, order_id, now)
    return load_order(conn, order_id), freed


def release_hold(conn: Connection, order_id: str, *, actor: str, now: datetime) -> OrderView:
    """A person has looked at a held order and lets it go on."""
    status = _lock_order(conn, order_id)
    if status != OrderStatus.ON_HOLD.value:
        raise IllegalTransition(f"order {order_id} is not on hold", field="status")
    view = load_order(conn, order_id)
    ordered = sum(ln.qty - ln.cancelled for ln in view.lines)
    held = sum(ln.allocated for ln in view.lines)
    new = next_status(status, status_after_allocation(ordered=ordered, allocated=held))
    conn.execute(update(orders).where(orders.c.id == order_id).values(hold_reason=None))
    _set_status(conn, order_id, new, now)
    _note(conn, order_id, "hold released", actor=actor, now=now)
    resolve_exceptions(conn, order_id, ("order_on_hold",), now)
    return load_order(conn, order_id)


def reallocate_order(
    conn: Connection, order_id: str, *, actor: str, today: date, now: datetime
) -> OrderView:
    """Give an order back what it holds and allocate it afresh under today's rules.

    The units go back into the queue first, so waiting orders of higher priority
    (or older) get their turn before this one, exactly as for any freed stock.
    """
    status = _lock_order(conn, order_id)
    event_status = next_status(status, OrderEvent.BACKORDER)  # refuses shipped, cancelled...
    view = load_order(conn, order_id)
    freed: set[str] = set()
    if any(ln.allocated for ln in view.lines):
        released = close_lines(
            conn,
            CloseLines(view.reservation_id, actor=actor, reference=f"reallocate:{order_id}"),
            Closing.RELEASE,
            now=now,
        )
        freed = {a.sku for a in released.allocations if a.released}
    _set_status(conn, order_id, event_status, now)
    _note(conn, order_id, "re-allocation requested", actor=actor, now=now)
    wanted = freed | {ln.sku for ln in view.lines if ln.qty > ln.cancelled + ln.shipped}
    fill_backorders(conn, wanted, today=today, now=now)
    return load_order(conn, order_id)


def reject_order(
    conn: Connection, order_id: str, *, reason: str, actor: str, now: datetime
) -> tuple[OrderView, set[str]]:
    """A person has looked at a held order and turns it down: it is cancelled."""
    status = _lock_order(conn, order_id)
    if status != OrderStatus.ON_HOLD.value:
        raise IllegalTransition(f"order {order_id} is not on hold", field="status")
    return cancel_order(conn, order_id, reason=f"rejected: {reason}", actor=actor, now=now)


def _settle_status(conn: Connection, order_id: str, now: datetime) -> None:
    view = load_order(conn, order_id)
    if view.status not in (*WAITING, OrderStatus.ALLOCATED.value):
        return
    ordered = sum(ln.qty - ln.cancelled for ln in view.lines)
    held = sum(ln.allocated + ln.shipped for ln in view.lines)
    new = next_status(view.status, status_after_allocation(ordered=ordered, allocated=held))
    _set_status(conn, order_id, new, now)


def fill_backorders(
    conn: Connection, skus: set[str] | None, *, today: date, now: datetime, limit: int = 500
) -> list[str]:
    """Allocate waiting orders that want these SKUs: higher priority first, then oldest.

    Returns the ids of orders that received stock. An order another fill holds
    is waited for, not skipped: that fill may have read the stock book before
    the units this one was called for came in.
    """
    ids = _waiting_orders(conn, skus, limit)
    if not ids:
        return []
    views = load_orders(conn, ids)
    points = _ship_to_points(conn, ids)
    cmds = {oid: _remainder(views[oid], points[oid]) for oid in ids}
    parts, ships_from = _holdings(conn, [views[oid].reservation_id for oid in ids])
    refs = OrderRefs.load(conn, [c for c, _ in cmds.values()])
    book, _ = load_book(conn, refs.stock_codes(c for c, _ in cmds.values()), today, lock=True)
    batch = order_writes.Batch(now=now)
    changed = []
    for oid in ids:
        cmd, line_nos = cmds[oid]
        channel = refs.channel(cmd.channel)
        needs = _still_lacking(refs.needs(cmd), views[oid], line_nos, parts)
        sites = refs.sites(cmd, channel)
        if ships_from[views[oid].reservation_id]:
            sites, channel = _within_splits(sites, channel, ships_from[views[oid].reservation_id])
        plan = plan_order(book, needs, sites, channel)
        if not plan.allocations:
            continue
        reservation_id = views[oid].reservation_id
        for need, a in plan.allocations:
            batch.rows["allocations"].append(
                {
                    "reservation_id": reservation_id,
                    "line_no": line_nos[need.line_no],
                    "position_id": a.position_id,
                    "qty": a.qty,
                }
            )
            batch.allocated[a.position_id] += a.qty
        for message in plan.decisions:
            batch.rows["order_decisions"].append(
                {
                    "order_id": oid,
                    "at": now,
                    "actor": "backorder",
                    "message": f"backorder fill: {message}",
                }
            )
        changed.append(oid)
    if not changed:
        return []
    _write_fill(conn, batch, book, changed, views)
    for oid in changed:
        _settle_status(conn, oid, now)
        if load_order(conn, oid).status == OrderStatus.ALLOCATED.value:
            resolve_exceptions(conn, oid, ("atp_failure", "late_backorder"), now)
    return changed


def _write_fill(
    conn: Connection,
    batch: order_writes.Batch,
    book: StockBook,
    changed: list[str],
    views: dict[str, OrderView],
) -> None:
    bulk.write(
        conn,
        bulk.Insert(allocations, batch.rows["allocations"]),
        bulk.Insert(order_decisions, batch.rows["order_decisions"]),
        bulk.Increment(positions, {p: {"allocated": q} for p, q in batch.allocated.items()}),
    )
    conn.execute(
        update(reservations)
        .where(reservations.c.id.in_([views[o].reservation_id for o in changed]))
        .values(status="open", closed_at=None)
    )
    order_writes.draw_fences(conn, book)


def _remainder(
    view: OrderView, point: tuple[Decimal | None, Decimal | None]
) -> tuple[CaptureOrder, dict[int, int]]:
    """The order's still-waiting units as a capture command; its line numbers by position.

    ``point`` is the ship-to point the order was captured with: the nearest
    warehouse is judged from it now as it was then.
    """
    lines, line_nos = [], {}
    for ln in view.lines:
        if ln.waiting > 0:
            lines.append(OrderLineIn(ln.sku, ln.waiting))
            line_nos[len(lines)] = ln.line_no
    cmd = CaptureOrder(
        channel=view.channel, lines=tuple(lines), ship_to=view.ship_to, customer=view.customer,
        ship_to_latitude=point[0], ship_to_longitude=point[1],
    )  # fmt: skip
    return cmd, line_nos


def _ship_to_points(
    conn: Connection, ids: list[str]
) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    rows = conn.execute(
        select(orders.c.id, orders.c.ship_to_latitude, orders.c.ship_to_longitude).where(
            orders.c.id.in_(ids)
        )
    )
    return {r.id: (r.ship_to_latitude, r.ship_to_longitude) for r in rows}


def _holdings(
    conn: Connection, reservation_ids: list[str]
) -> tuple[dict[tuple[str, int, int], int], dict[str, set[int]]]:
    """Units held open per (reservation, line, SKU id); locations each reservation ships from."""
    open_qty = allocations.c.qty - allocations.c.released_qty - allocations.c.consumed_qty
    rows = conn.execute(
        select(
            allocations.c.reservation_id,
            allocations.c.line_no,
            positions.c.sku_id,
            positions.c.location_id,
            func.sum(open_qty).label("held"),
            func.sum(allocations.c.qty - allocations.c.released_qty).label("kept"),
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(allocations.c.reservation_id.in_(reservation_ids))
        .group_by(
            allocations.c.reservation_id,
            allocations.c.line_no,
            positions.c.sku_id,
            positions.c.location_id,
        )
    )
    parts: dict[tuple[str, int, int], int] = defaultdict(int)
    ships_from: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        parts[(r.reservation_id, r.line_no, r.sku_id)] += int(r.held)
        if r.kept > 0:
            ships_from[r.reservation_id].add(int(r.location_id))
    return parts, ships_from


def _within_splits(
    sites: list[Site], channel: ChannelRules, used: set[int]
) -> tuple[list[Site], ChannelRules]:
    """Where the rest of an order already shipping from ``used`` may come from.

    The channel's split limit counts every location the order ships from, not
    each allocation on its own: at the limit, only the locations already in use.
    """
    left = channel.max_splits - len(used)
    if left <= 0:
        return [s for s in sites if s.id in used], replace(channel, max_splits=len(used))
    return sites, replace(channel, max_splits=left)


def _still_lacking(
    needs: list[Need],
    view: OrderView,
    line_nos: dict[int, int],
    parts: dict[tuple[str, int, int], int],
) -> list[Need]:
    """The waiting units' needs less the parts already held for them.

    A kit line allowed to ship in part may hold some components of a kit it
    cannot complete yet; those must not be allocated a second time.
    """
    lines = {ln.line_no: ln for ln in view.lines}
    out = []
    for need in needs:
        line = lines[line_nos[need.line_no]]
        per_unit = need.qty // line.waiting
        held = parts.get((view.reservation_id, line.line_no, need.sku_id), 0)
        spare = max(0, held - line.allocated * per_unit)
        if need.qty > spare:
            out.append(replace(need, qty=need.qty - spare))
    return out


def _waiting_orders(conn: Connection, skus: set[str] | None, limit: int) -> list[str]:
    """Ids of waiting orders (for these SKUs), highest channel priority first, then oldest."""
    query = (
        select(orders.c.id)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(orders.c.status.in_(WAITING))
        .order_by(channels.c.priority.desc(), orders.c.created_at, orders.c.id)
        .limit(limit)
        .with_for_update(of=orders)
    )
    if skus is not None:
        ids = select(sku_table.c.id).where(sku_table.c.code.in_(sorted(skus)))
        kits = select(kit_components.c.kit_sku_id).where(kit_components.c.component_sku_id.in_(ids))
        wanted = select(order_lines.c.order_id).where(
            or_(order_lines.c.sku_id.in_(ids), order_lines.c.sku_id.in_(kits))
        )
        query = query.where(orders.c.id.in_(wanted))
    return [r.id for r in conn.execute(query)]


def has_free_stock(conn: Connection, skus: set[str]) -> bool:
    """Whether a sellable position of these SKUs (or of their kits' parts) has unallocated units.

    A cheap look without locks before a fill: it may say yes for units a buffer
    or a ring fence keeps back (the fill then finds nothing), never no for free ones.
    """
    ids = select(sku_table.c.id).where(sku_table.c.code.in_(sorted(skus)))
    parts = select(kit_components.c.component_sku_id).where(kit_components.c.kit_sku_id.in_(ids))
    query = (
        select(positions.c.id)
        .join(locations, locations.c.id == positions.c.location_id)
        .where(
            or_(positions.c.sku_id.in_(ids), positions.c.sku_id.in_(parts)),
            positions.c.on_hand - positions.c.allocated > 0,
            locations.c.kind.in_(sorted(SELLABLE_KINDS)),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


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
        if "late_backorder" not in existing[r.id]:
            rows.append(
                ("late_backorder", r.id, f"backorder promised for {r.promise_date} is late")
            )
    for r in stuck:
        if "stuck_order" not in existing[r.id]:
            rows.append(("stuck_order", r.id, f"no progress for over {stuck_hours} hours"))
    for kind, oid, message in rows:
        conn.execute(
            exceptions.insert().values(
                kind=kind,
                state="open",
                order_id=oid,
                message=message,
                created_at=now,
                updated_at=now,
            )
        )
        raised += 1
    return raised
