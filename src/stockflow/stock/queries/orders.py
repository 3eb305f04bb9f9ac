"""Orders as people read them: lines with allocated, shipped and waiting units, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, exists, func, or_, select

from stockflow.adapters.driver import among
from stockflow.adapters.exporting import Rows
from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    channels,
    customers,
    kit_components,
    order_decisions,
    order_lines,
    orders,
    positions,
    skus,
)
from stockflow.errors import InvalidInput, NotFound
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.order_lifecycle import WAITING, OrderStatus
from stockflow.stock.visibility import order_condition


class UnknownOrder(NotFound):
    """No order has that id."""

    title = "Unknown order"


@dataclass(frozen=True, slots=True)
class OrderLineView:
    """One line: how much is held for it, gone out, cancelled, or still waiting."""

    line_no: int
    sku: str
    qty: int
    unit_price: Decimal | None
    allocated: int
    shipped: int
    cancelled: int

    @property
    def waiting(self) -> int:
        """Units neither held, shipped nor cancelled: the backorder."""
        return max(0, self.qty - self.cancelled - self.allocated - self.shipped)


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its lines and the decisions taken on it."""

    id: str
    channel: str
    external_id: str | None
    customer: str | None
    ship_to: str | None
    status: str
    hold_reason: str | None
    promise_date: date | None
    value: Decimal | None  # None only for a caller who may not see prices
    reservation_id: str
    created_at: datetime
    updated_at: datetime
    lines: tuple[OrderLineView, ...]
    decisions: tuple[str, ...]
    replayed: bool = False

    def without_prices(self) -> OrderView:
        """This order as a caller who may not see prices reads it: no line prices, no value."""
        lines = tuple(replace(ln, unit_price=None) for ln in self.lines)
        return replace(self, lines=lines, value=None)


# An order's head as people read it: with its channel's and customer's codes. Its rows are
# read by position (``_HEAD_WIDTH`` columns): an attribute of a row costs several times more.
_HEADS = (
    select(
        orders.c.id, channels.c.code.label("channel"), orders.c.external_id,
        customers.c.code.label("customer"), orders.c.ship_to, orders.c.status,
        orders.c.hold_reason, orders.c.promise_date, orders.c.value, orders.c.reservation_id,
        orders.c.created_at, orders.c.updated_at,
    )
    .join(channels, channels.c.id == orders.c.channel_id)
    .outerjoin(customers, customers.c.id == orders.c.customer_id)
)  # fmt: skip
_HEAD_WIDTH = 12


def load_orders(
    conn: Connection, ids: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, OrderView]:
    """The orders with these ids that the scope sees (others left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = _HEADS.where(among(conn, orders.c.id, wanted))
    seen = order_condition(scope)
    if seen is not None:
        query = query.where(seen)
    return {v.id: v for v in order_views(conn, conn.execute(query).all())}


def order_views(conn: Connection, heads: Sequence[Sequence[Any]]) -> list[OrderView]:
    """Rows of ``_HEADS`` as orders, in their order: two statements more, however many there are.

    One reads every line with what its allocations hold and shipped, one the
    decisions; a kit's recipe is read only when a line is of a kit.
    """
    if not heads:
        return []
    found = [tuple(h)[:_HEAD_WIDTH] for h in heads]
    ids = [h[0] for h in found]
    lines = _line_views(conn, ids, sorted({h[9] for h in found}))
    notes: dict[str, list[str]] = defaultdict(list)
    for order_id, message in conn.execute(
        select(order_decisions.c.order_id, order_decisions.c.message)
        .where(among(conn, order_decisions.c.order_id, ids))
        .order_by(order_decisions.c.id)
    ).all():
        notes[order_id].append(message)
    return [
        OrderView(
            order_id, channel, external_id, customer, ship_to, status, hold_reason,
            promise_date, value, reservation_id, created_at, updated_at,
            tuple(lines[order_id]), tuple(notes[order_id]),
        )
        for (
            order_id, channel, external_id, customer, ship_to, status, hold_reason,
            promise_date, value, reservation_id, created_at, updated_at,
        ) in found
    ]  # fmt: skip


def _line_views(
    conn: Connection, ids: list[str], reservation_ids: list[str]
) -> dict[str, list[OrderLineView]]:
    """Each order's lines with what they hold and have shipped (kit lines by their parts).

    One row per line and SKU it holds: a line of a plain SKU holds that SKU
    (or nothing yet), a kit's line each of its parts.
    """
    open_qty = allocation_open_qty
    held = (
        select(
            allocations.c.reservation_id,
            allocations.c.line_no,
            positions.c.sku_id,
            func.sum(open_qty).label("held"),
            func.sum(allocations.c.consumed_qty).label("shipped"),
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(among(conn, allocations.c.reservation_id, reservation_ids))
        .group_by(allocations.c.reservation_id, allocations.c.line_no, positions.c.sku_id)
        .subquery("held")
    )
    is_kit = exists(
        select(kit_components.c.kit_sku_id).where(
            kit_components.c.kit_sku_id == order_lines.c.sku_id
        )
    )
    rows = conn.execute(
        select(
            order_lines.c.order_id, order_lines.c.line_no, order_lines.c.sku_id,
            order_lines.c.qty, order_lines.c.unit_price, order_lines.c.cancelled_qty,
            skus.c.code, is_kit, held.c.sku_id, held.c.held, held.c.shipped,
        )
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(orders, orders.c.id == order_lines.c.order_id)
        .outerjoin(
            held,
            (held.c.reservation_id == orders.c.reservation_id)
            & (held.c.line_no == order_lines.c.line_no),
        )
        .where(among(conn, order_lines.c.order_id, ids))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    ).all()  # fmt: skip
    # (order, line) -> {SKU id: (units held, units shipped)}; the line's own row first.
    parts: dict[tuple[str, int], dict[int, tuple[int, int]]] = {}
    firsts = []
    kits = set()
    for order_id, line_no, sku_id, qty, price, cancelled, sku, kit, part, held_qty, shipped in rows:
        key = (order_id, line_no)
        if key not in parts:
            parts[key] = {}
            firsts.append((order_id, line_no, sku_id, qty, price, cancelled, sku))
            if kit:
                kits.add(sku_id)
        if part is not None:
            parts[key][int(part)] = (int(held_qty), int(shipped))
    recipes = kit_recipes(conn, kits) if kits else {}
    lines: dict[str, list[OrderLineView]] = defaultdict(list)
    for order_id, line_no, sku_id, qty, price, cancelled, sku in firsts:
        allocated, shipped = _in_line_units(sku_id, parts[(order_id, line_no)], recipes.get(sku_id))
        lines[order_id].append(
            OrderLineView(line_no, sku, int(qty), price, allocated, shipped, int(cancelled))
        )
    return lines


def load_order(conn: Connection, order_id: str, *, scope: Scope = EVERYWHERE) -> OrderView:
    """One order the scope sees, or ``UnknownOrder``."""
    found = load_orders(conn, [order_id], scope=scope).get(order_id)
    if found is None:
        raise UnknownOrder(f"no order {order_id!r}", field="order_id")
    return found


ORDERS = Keyset(
    "orders", Key(orders.c.created_at, descending=True), Key(orders.c.id, descending=True)
)


def order_page(
    conn: Connection,
    *,
    status: str | None = None,
    channel: str | None = None,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[OrderView]:
    """Up to ``limit`` orders the scope sees, newest first, after cursor ``after``."""
    query = _HEADS
    if status is not None:
        if status not in {s.value for s in OrderStatus}:
            choices = ", ".join(s.value for s in OrderStatus)
            raise InvalidInput(f"use one of: {choices}", field="status")
        query = query.where(orders.c.status == status)
    if channel is not None:
        query = query.where(
            orders.c.channel_id == select(channels.c.id).where(channels.c.code == channel)
            .scalar_subquery()
        )  # fmt: skip
    seen = order_condition(scope)
    if seen is not None:
        query = query.where(seen)
    page = ORDERS.page(conn, query, after=after, limit=limit)
    return Page(order_views(conn, page.items), page.next)


ORDER_LINE_COLUMNS = (
    "order_id", "channel", "external_id", "customer", "status", "promise_date", "value",
    "created_at", "updated_at", "line_no", "sku", "qty", "cancelled", "unit_price",
)  # fmt: skip


def order_line_rows(scope: Scope = EVERYWHERE) -> Rows:
    """Every order the scope sees, one row per line, for an export, newest first."""
    query = (
        select(
            orders.c.id, channels.c.code.label("channel"), orders.c.external_id,
            customers.c.code.label("customer"), orders.c.status, orders.c.promise_date,
            orders.c.value, orders.c.created_at, orders.c.updated_at,
        )
        .join(channels, channels.c.id == orders.c.channel_id)
        .outerjoin(customers, customers.c.id == orders.c.customer_id)
    )  # fmt: skip
    seen = order_condition(scope)
    if seen is not None:
        query = query.where(seen)

    def lines(conn: Connection, heads: Sequence[Row[Any]]) -> list[tuple[object, ...]]:
        per_order: dict[str, list[Any]] = defaultdict(list)
        for line in conn.execute(
            select(
                order_lines.c.order_id, order_lines.c.line_no, skus.c.code.label("sku"),
                order_lines.c.qty, order_lines.c.cancelled_qty, order_lines.c.unit_price,
            )
            .join(skus, skus.c.id == order_lines.c.sku_id)
            .where(among(conn, order_lines.c.order_id, [h.id for h in heads]))
            .order_by(order_lines.c.order_id, order_lines.c.line_no)
        ):  # fmt: skip
            per_order[line.order_id].append(line)
        return [
            (
                h.id, h.channel, h.external_id, h.customer, h.status, h.promise_date, h.value,
                h.created_at, h.updated_at, int(ln.line_no), ln.sku, int(ln.qty),
                int(ln.cancelled_qty), ln.unit_price,
            )
            for h in heads
            for ln in per_order[h.id]
        ]  # fmt: skip

    return Rows(query, ORDERS, lines)


def kit_recipes(conn: Connection, sku_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """Kit SKU id -> {component SKU id: units per kit}, for those of ``sku_ids`` that are kits."""
    wanted = sorted(set(sku_ids))
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    if wanted:
        for k in conn.execute(
            select(kit_components).where(kit_components.c.kit_sku_id.in_(wanted))
        ):
            recipes[int(k.kit_sku_id)][int(k.component_sku_id)] = int(k.qty)
    return dict(recipes)


def _in_line_units(
    sku_id: int, parts: dict[int, tuple[int, int]], recipe: dict[int, int] | None
) -> tuple[int, int]:
    """Held and shipped units of a line; a kit counts the whole kits its scarcest part covers."""
    if recipe is None:
        return parts.get(sku_id, (0, 0))
    held = min(parts.get(c, (0, 0))[0] // q for c, q in recipe.items())
    shipped = min(parts.get(c, (0, 0))[1] // q for c, q in recipe.items())
    return held, shipped


def orders_waiting_for(conn: Connection, sku_ids: Iterable[int]) -> list[str]:
    """Ids of orders still waiting for units of these SKUs (or of kits made of them)."""
    wanted = sorted(set(sku_ids))
    if not wanted:
        return []
    kits = select(kit_components.c.kit_sku_id).where(kit_components.c.component_sku_id.in_(wanted))
    lines = select(order_lines.c.order_id).where(
        or_(order_lines.c.sku_id.in_(wanted), order_lines.c.sku_id.in_(kits))
    )
    return list(
        conn.execute(
            select(orders.c.id)
            .where(orders.c.status.in_(WAITING), orders.c.id.in_(lines))
            .order_by(orders.c.created_at, orders.c.id)
        ).scalars()
    )


def order_statuses(conn: Connection, order_ids: list[str]) -> dict[str, str]:
    """Each order's status now, by id."""
    if not order_ids:
        return {}
    rows = conn.execute(select(orders.c.id, orders.c.status).where(orders.c.id.in_(order_ids)))
    return {r.id: r.status for r in rows}
