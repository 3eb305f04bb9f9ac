"""Backorder fills: waiting orders get freed stock, highest channel priority first, then oldest."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, or_, select, update

from stockflow.adapters import bulk
from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    bins,
    channels,
    kit_components,
    locations,
    order_decisions,
    order_lines,
    orders,
    positions,
    reservations,
)
from stockflow.adapters.tables import skus as sku_table
from stockflow.orders import order_writes
from stockflow.orders.order_refs import OrderRefs
from stockflow.orders.rules.channels import ChannelRules
from stockflow.orders.rules.fulfilment import Need, OrderPlan, Site, plan_order
from stockflow.stock.book import load_book
from stockflow.stock.changes import touched
from stockflow.stock.exceptions import resolve_exceptions
from stockflow.stock.order_events import OrderScope, order_scopes, promised, record_waiting
from stockflow.stock.order_lifecycle import lock_order, note, settle_status
from stockflow.stock.queries.orders import OrderView, load_order, load_orders, orders_waiting_for
from stockflow.stock.rules.allocation import StockBook
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn
from stockflow.stock.rules.events import (
    AllocatedLine,
    OrderAllocated,
    OrderPromised,
    StockTakenBack,
)
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.order_lifecycle import WAITING, OrderStatus
from stockflow.stock.rules.places import SELLABLE_BIN_ROLES, SELLABLE_KINDS
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus


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
    parts, ships_from = holdings(conn, [views[oid].reservation_id for oid in ids])
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
        _gather(batch, oid, views[oid].reservation_id, plan, line_nos, now=now)
        changed.append(oid)
    if not changed:
        return []
    _write_fill(conn, batch, book, changed, views)
    scopes = order_scopes(conn, changed)
    for oid in changed:
        settle_status(conn, oid, now)
        after = load_order(conn, oid)
        if after.status == OrderStatus.ALLOCATED.value:
            resolve_exceptions(conn, oid, _FILLED, now, resolution="the order got its stock")
        _announce_fill(conn, after, batch.allocated_lines(oid, book), scopes[oid], now=now)
    return changed


def _announce_fill(
    conn: Connection, view: OrderView, placed: tuple[AllocatedLine, ...], scope: OrderScope,
    *, now: datetime,
) -> None:  # fmt: skip
    """``order.allocated`` for what the fill gave the order, ``order.backordered`` if it waits."""
    got = OrderAllocated(view.id, view.status, placed, channel=scope.channel, sites=scope.sites)
    record(conn, got, now=now)
    record_waiting(conn, view, scope, now=now)


_FILLED = (ExceptionKind.ATP_FAILURE, ExceptionKind.LATE_BACKORDER)
"""What an order that got everything no longer needs anyone to look at."""


def _gather(
    batch: order_writes.Batch, order_id: str, reservation_id: str, plan: OrderPlan,
    line_nos: dict[int, int], *, now: datetime,
) -> None:  # fmt: skip
    """The rows one order's fill writes: its allocations and the decisions behind them."""
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
        batch.placed[order_id][(line_nos[need.line_no], need.sku, a.position_id)] += a.qty
    for message in plan.decisions:
        batch.rows["order_decisions"].append(
            {
                "order_id": order_id,
                "at": now,
                "actor": "backorder",
                "message": f"backorder fill: {message}",
            }
        )


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
    touched(conn, batch.allocated, now=batch.now)
    conn.execute(
        update(reservations)
        .where(among(reservations.c.id, [views[o].reservation_id for o in changed]))
        .values(status=ReservationStatus.OPEN.value, closed_at=None)
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
            among(orders.c.id, ids)
        )
    )
    return {r.id: (r.ship_to_latitude, r.ship_to_longitude) for r in rows}


def holdings(
    conn: Connection, reservation_ids: list[str]
) -> tuple[dict[tuple[str, int, int], int], dict[str, set[int]]]:
    """Units held open per (reservation, line, SKU id); locations each reservation ships from."""
    open_qty = allocation_open_qty
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
        .where(among(allocations.c.reservation_id, reservation_ids))
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
        ids = select(sku_table.c.id).where(among(sku_table.c.code, skus))
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
    ids = select(sku_table.c.id).where(among(sku_table.c.code, skus))
    parts = select(kit_components.c.component_sku_id).where(kit_components.c.kit_sku_id.in_(ids))
    query = (
        select(positions.c.id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .where(
            or_(positions.c.sku_id.in_(ids), positions.c.sku_id.in_(parts)),
            positions.c.on_hand - positions.c.allocated > 0,
            locations.c.kind.in_(sorted(SELLABLE_KINDS)),
            bins.c.role.in_(sorted(SELLABLE_BIN_ROLES)),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def repromise(
    conn: Connection, order_ids: list[str], *, today: date, now: datetime
) -> dict[str, date | None]:
    """Work out again when each waiting order's missing units will be there, and store it.

    Called when the ground moved under a promise: a short pick, a count, new supply.
    An order whose date moves says so (``order.promised``).
    """
    views = load_orders(conn, order_ids)
    points = _ship_to_points(conn, order_ids)
    out: dict[str, date | None] = {}
    moved: list[OrderPromised] = []
    for oid in order_ids:
        view = views.get(oid)
        if view is None or view.status not in WAITING:
            continue
        cmd, _ = _remainder(view, points[oid])
        if not cmd.lines:
            continue
        refs = OrderRefs.load(conn, [cmd])
        needs = refs.needs(cmd)
        missing = {i: n.qty for i, n in enumerate(needs)}
        # The queue of waiting orders already holds this order's own units: not twice.
        own: dict[int, int] = {}
        for n in needs:
            own[n.sku_id] = -sum(ln.waiting for ln in view.lines if ln.sku == n.sku)
        promise = refs.promise_date(conn, needs, missing, today=today, ahead=own)
        if promise != view.promise_date:
            conn.execute(update(orders).where(orders.c.id == oid).values(promise_date=promise))
            moved.append(promised(oid, promise, view.promise_date, OrderScope(view.channel)))
        out[oid] = promise
    if moved:
        _record_promises(conn, moved, now=now)
    return out


def _record_promises(conn: Connection, moved: list[OrderPromised], *, now: datetime) -> None:
    """Record the moved promises, each naming its order's sites."""
    scopes = order_scopes(conn, (e.order_id for e in moved))
    record(conn, *(replace(e, sites=scopes[e.order_id].sites) for e in moved), now=now)


def repromise_waiting(
    conn: Connection, sku_ids: set[int], *, today: date, now: datetime
) -> list[str]:
    """New promise dates for every order waiting for these SKUs (or kits of them): supply moved."""
    waiting = orders_waiting_for(conn, sku_ids)
    repromise(conn, waiting, today=today, now=now)
    return waiting


def promise_after_loss(
    conn: Connection, taken: StockTakenBack, *, today: date, now: datetime
) -> None:
    """Tell each order a loss took units from how it stands now that fills have run.

    One that still waits gets a new promise date; one that got stock again says so.
    """
    for oid, _ in taken.on_floor:
        status = lock_order(conn, oid)
        if status in WAITING:
            promised_on = repromise(conn, [oid], today=today, now=now).get(oid)
            outcome = f"waits for {taken.sku}, promised for {promised_on or 'no date yet'}"
        else:
            outcome = f"{taken.sku} re-allocated by the usual rules"
        note(conn, oid, outcome, actor=taken.actor, now=now)
