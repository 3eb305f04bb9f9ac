"""Order capture: validate, hold, allocate by the channel's rules, or backorder, in one go.

``capture_many`` takes a batch of orders (one, or many from a sheet or the
order desk) and runs them through the same locked stock book as every other
allocation. Higher-priority channels are served first within a batch; ring
fences keep a channel's units away from the others at any time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, or_, select

from stockflow.adapters import audit
from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import exceptions, orders
from stockflow.errors import (
    ExternalIdReused,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    StockflowError,
)
from stockflow.orders import order_writes
from stockflow.orders.order_refs import OrderRefs
from stockflow.orders.rules.channels import BackorderPolicy
from stockflow.orders.rules.fulfilment import Need, Site, plan_order
from stockflow.stock.book import load_book
from stockflow.stock.order_events import OrderScope, backordered, promised
from stockflow.stock.queries.orders import OrderView, load_orders
from stockflow.stock.rules.allocation import StockBook
from stockflow.stock.rules.commands import CaptureOrder
from stockflow.stock.rules.events import (
    Event,
    ExceptionOpened,
    OrderAllocated,
    OrderCaptured,
    OrderLine,
)
from stockflow.stock.rules.order_lifecycle import (
    OrderEvent,
    OrderStatus,
    next_status,
    status_after_allocation,
)
from stockflow.stock.rules.quantities import positive_quantity

OrderOutcome = OrderView | StockflowError


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    cmd: CaptureOrder
    refs: OrderRefs
    channel_id: int
    priority: int


def check_order(cmd: CaptureOrder) -> None:
    """Refuse a malformed order before it touches the database."""
    if not cmd.channel:
        raise InvalidInput("is required", field="channel")
    if not cmd.lines:
        raise InvalidInput("an order needs at least one line", field="lines")
    if not (cmd.ship_to or "").strip():
        raise InvalidInput("a ship-to address is required", field="ship_to")
    seen: set[str] = set()
    for i, line in enumerate(cmd.lines):
        if not line.sku:
            raise InvalidInput("is required", field=f"lines[{i}].sku")
        positive_quantity(line.qty, field=f"lines[{i}].qty")
        if line.unit_price is not None and line.unit_price < 0:
            raise InvalidInput("must not be negative", field=f"lines[{i}].unit_price")
        if line.sku in seen:
            raise InvalidInput(
                f"SKU {line.sku} appears twice; put it on one line", field=f"lines[{i}].sku"
            )
        seen.add(line.sku)


def capture_many(
    conn: Connection,
    cmds: Sequence[CaptureOrder],
    *,
    today: date,
    now: datetime,
    refs: OrderRefs | None = None,
    book: StockBook | None = None,
) -> list[OrderOutcome]:
    """Capture each order on its own (all or nothing per order); one outcome per command.

    A caller capturing many batches in one transaction (a sheet of orders)
    may pass the references of all of them and the stock book it locked for
    all of them: the batches then plan on one book, as one batch would.
    """
    outcomes: list[OrderOutcome | _TwinOf | None] = [None] * len(cmds)
    refs = OrderRefs.load(conn, cmds) if refs is None else refs
    earlier = _earlier_orders(conn, cmds, refs)
    live: list[_Checked] = []
    claimed: dict[tuple[object, ...], int] = {}
    for i, cmd in enumerate(cmds):
        keys = _keys(cmd, refs)
        matched = next((k for k in keys if k in earlier), None)
        if matched is not None:
            found = earlier[matched]
            outcomes[i] = (
                replace(found, replayed=True) if _same_order(found, cmd) else _reused(matched, cmd)
            )
            continue
        twin = next((claimed[k] for k in keys if k in claimed), None)
        if twin is not None:
            outcomes[i] = _TwinOf(twin)
            continue
        try:
            channel = refs.check(cmd)
        except StockflowError as exc:
            outcomes[i] = exc
            continue
        claimed.update({k: i for k in keys})
        live.append(_Checked(i, cmd, refs, channel.id, channel.priority))
    if book is None:
        book, _ = load_book(conn, refs.stock_codes(c.cmd for c in live), today, lock=True)
    batch = order_writes.Batch(now=now)
    # Priority first, then arrival: a busy batch never lets a low-priority
    # channel take the units a high-priority one asked for at the same moment.
    for item in sorted(live, key=lambda c: (-c.priority, c.index)):
        try:
            outcomes[item.index] = _capture_one(conn, item, book, batch, today=today)
        except StockflowError as exc:
            outcomes[item.index] = exc
    taken = (i for i, o in enumerate(outcomes) if isinstance(o, OrderView) and not o.replayed)
    # Who captured each order, when a desk staged it: in the batch's one statement.
    batch.write(conn, book, audit.staged_rows(conn, taken, now=now))
    written = load_orders(conn, batch.order_ids) if batch.order_ids else {}
    if written:
        # JSON does not travel in the bulk arrays: one batch insert for the batch's events.
        record(conn, *_announced(conn, batch, book, written), now=now)

    def settled(outcome: OrderOutcome | _TwinOf | None) -> OrderOutcome:
        if isinstance(outcome, _TwinOf):
            twin = settled(outcomes[outcome.index])
            return replace(twin, replayed=True) if isinstance(twin, OrderView) else twin
        if isinstance(outcome, OrderView):
            return written.get(outcome.id, outcome)
        return outcome if outcome is not None else InvalidInput("not processed")

    return [settled(o) for o in outcomes]


def _announced(
    conn: Connection, batch: order_writes.Batch, book: StockBook, written: dict[str, OrderView]
) -> list[Event]:
    """Each captured order's events, in capture order, then the exceptions the batch raised."""
    events: list[Event] = []
    scopes: dict[str, OrderScope] = {}
    for oid in batch.order_ids:
        view = written[oid]
        placed = batch.allocated_lines(oid, book)
        scope = scopes[oid] = OrderScope(view.channel).at(*(ln.location for ln in placed))
        events.append(_captured(view, scope))
        if placed:
            allocated = OrderAllocated(
                oid, view.status, placed, channel=scope.channel, sites=scope.sites
            )
            events.append(allocated)
        waits = backordered(view, scope)
        if waits is not None:
            events.append(waits)
        if view.promise_date is not None:
            events.append(promised(oid, view.promise_date, None, scope))
    if batch.raised:
        events.extend(_opened(conn, {oid: scopes[oid] for oid in batch.raised}))
    return events


def _captured(view: OrderView, scope: OrderScope) -> OrderCaptured:
    return OrderCaptured(
        view.id,
        view.status,
        view.external_id,
        tuple(OrderLine(ln.line_no, ln.sku, ln.qty) for ln in view.lines),
        view.promise_date,
        waiting=tuple(sorted(ln.sku for ln in view.lines if ln.waiting)),
        channel=scope.channel,
        sites=scope.sites,
    )


def _opened(conn: Connection, scopes: dict[str, OrderScope]) -> list[ExceptionOpened]:
    """The exceptions just raised for these new orders (the only ones they have), with ids."""
    rows = conn.execute(
        select(exceptions.c.id, exceptions.c.kind, exceptions.c.order_id, exceptions.c.message)
        .where(among(exceptions.c.order_id, scopes))
        .order_by(exceptions.c.id)
    )
    opened: list[ExceptionOpened] = []
    for r in rows:
        of = scopes[r.order_id]
        about = (int(r.id), r.kind, r.order_id, None, None)
        opened.append(
            ExceptionOpened(*about, message=r.message, channel=of.channel, sites=of.sites)
        )
    return opened


@dataclass(frozen=True, slots=True)
class _TwinOf:
    """This command repeats an earlier one in the same batch."""

    index: int


def _capture_one(
    conn: Connection,
    item: _Checked,
    book: StockBook,
    batch: order_writes.Batch,
    *,
    today: date,
) -> OrderView:
    cmd, refs = item.cmd, item.refs
    channel = refs.channel(cmd.channel)
    needs = refs.needs(cmd)
    sites = refs.sites(cmd, channel)
    plan = plan_order(book, needs, sites, channel)
    allocated = sum(a.qty for _, a in plan.allocations)
    ordered = sum(n.qty for n in needs)
    promise: date | None = None
    if not plan.complete:
        if channel.backorder_policy is not BackorderPolicy.REJECT:
            short = plan.missing if allocated else _shortfall(book, needs, sites, channel.id)
            promise = refs.promise_date(
                conn, needs, short or plan.missing, today=today, ahead=batch.waiting
            )
        if allocated == 0 and not channel.accepts_backorder(promise, today):
            need, available = _short_line(book, needs, sites, channel.id, plan.missing)
            raise InsufficientStock(
                sku=need.sku,
                requested=need.qty,
                available=available,
                field=f"lines[{need.line_no - 1}].qty",
            )
    holds = refs.hold_reasons(cmd, channel)
    status = OrderStatus.DRAFT
    if holds:
        status = next_status(status, OrderEvent.HOLD)
    else:
        status = next_status(status, status_after_allocation(ordered=ordered, allocated=allocated))
    if status in (OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED):
        # Later orders of this batch queue for supply behind this one.
        for index, qty in plan.missing.items():
            batch.waiting[needs[index].sku_id] += qty
    order_id = uuid.uuid4().hex
    decisions = list(plan.decisions)
    if promise is not None:
        decisions.append(f"promised for {promise.isoformat()}")
    elif not plan.complete:
        decisions.append("no incoming supply known: no promise date yet")
    batch.add_order(
        order_id=order_id,
        cmd=cmd,
        refs=refs,
        channel_id=item.channel_id,
        status=status,
        holds=holds,
        promise=promise,
        plan=plan,
        decisions=decisions,
        backordered=not plan.complete,
    )
    return _placeholder(order_id, cmd, status)


def _shortfall(
    book: StockBook, needs: Sequence[Need], sites: Sequence[Site], channel_id: int
) -> dict[int, int]:
    """Units per need that the channel's locations do not have free (empty: all are there).

    An order allocated nothing marks every line missing, yet only what is not on
    a shelf has to wait for incoming supply.
    """
    free: dict[int, int] = {}
    short: dict[int, int] = {}
    for i, need in enumerate(needs):
        if need.sku_id not in free:
            free[need.sku_id] = sum(
                book.available(need.sku_id, s.id, channel=channel_id) for s in sites
            )
        taken = min(need.qty, free[need.sku_id])
        free[need.sku_id] -= taken
        if need.qty > taken:
            short[i] = need.qty - taken
    return short


def _short_line(
    book: StockBook,
    needs: Sequence[Need],
    sites: Sequence[Site],
    channel_id: int,
    missing: dict[int, int],
) -> tuple[Need, int]:
    """The first line the channel's locations cannot cover, and how much of it they could.

    An order that is not allowed to ship in part marks every line missing, so
    the line to blame is found from what the book still holds for the channel.
    """
    wanted: dict[int, int] = defaultdict(int)
    for need in needs:
        wanted[need.sku_id] += need.qty
        free = sum(book.available(need.sku_id, s.id, channel=channel_id) for s in sites)
        if wanted[need.sku_id] > free:
            return need, max(0, free - (wanted[need.sku_id] - need.qty))
    # Enough in total, but not within the channel's split limit.
    first = next(i for i, q in missing.items() if q)
    return needs[first], needs[first].qty - missing[first]


def _placeholder(order_id: str, cmd: CaptureOrder, status: OrderStatus) -> OrderView:
    """Stands in until the batch is written and the real view can be read."""
    return OrderView(
        id=order_id, channel=cmd.channel, external_id=cmd.external_id, customer=cmd.customer,
        ship_to=cmd.ship_to, status=status.value, hold_reason=None, promise_date=None,
        value=Decimal(0), reservation_id="", created_at=datetime.min, updated_at=datetime.min,
        lines=(), decisions=(),
    )  # fmt: skip


def _same_order(order: OrderView, cmd: CaptureOrder) -> bool:
    """Whether a retried command asks for the order that was captured the first time."""
    return order.channel == cmd.channel and sorted(
        (ln.sku, ln.qty) for ln in order.lines
    ) == sorted((ln.sku, ln.qty) for ln in cmd.lines)


def _reused(key: tuple[object, ...], cmd: CaptureOrder) -> IdempotencyKeyReused:
    """The refusal that names what was reused: the header's key, or channel + external id."""
    if key[0] == "key":
        return IdempotencyKeyReused(cmd.idempotency_key or "")
    return ExternalIdReused(cmd.channel, cmd.external_id or "")


def _keys(cmd: CaptureOrder, refs: OrderRefs) -> list[tuple[object, ...]]:
    """What makes two commands the same order: the idempotency key, or channel + external id."""
    keys: list[tuple[object, ...]] = []
    if cmd.idempotency_key:
        keys.append(("key", cmd.idempotency_key))
    if cmd.external_id:
        keys.append(("ext", cmd.channel, cmd.external_id))
    return keys


def _earlier_orders(
    conn: Connection, cmds: Sequence[CaptureOrder], refs: OrderRefs
) -> dict[tuple[object, ...], OrderView]:
    """Orders already captured under any of these commands' keys."""
    keys = sorted({c.idempotency_key for c in cmds if c.idempotency_key})
    pairs = {
        (refs.channel_id(c.channel), c.external_id)
        for c in cmds
        if c.external_id and refs.channel_id(c.channel) is not None
    }
    if not keys and not pairs:
        return {}
    conditions: list[ColumnElement[bool]] = []
    if keys:
        conditions.append(among(orders.c.idempotency_key, keys))
    if pairs:
        # Two IN lists rather than one OR term per pair: SQLite refuses an
        # expression tree deeper than 1,000. The pairs are matched exactly below.
        conditions.append(
            among(orders.c.channel_id, {c for c, _ in pairs})
            & among(orders.c.external_id, {e for _, e in pairs})
        )
    key_set = set(keys)
    rows = [
        r
        for r in conn.execute(
            select(
                orders.c.id, orders.c.idempotency_key, orders.c.channel_id, orders.c.external_id
            ).where(or_(*conditions))
        )
        if r.idempotency_key in key_set or (r.channel_id, r.external_id) in pairs
    ]
    views = load_orders(conn, [r.id for r in rows])
    found: dict[tuple[object, ...], OrderView] = {}
    for r in rows:
        view = views[r.id]
        if r.idempotency_key:
            found[("key", r.idempotency_key)] = view
        if r.external_id:
            found[("ext", view.channel, r.external_id)] = view
    return found
