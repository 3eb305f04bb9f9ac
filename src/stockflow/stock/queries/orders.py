"""Orders as people read them: lines with allocated, shipped and waiting units, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, or_, select

from stockflow.adapters.sets import among
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


def load_orders(
    conn: Connection, ids: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, OrderView]:
    """The orders with these ids that the scope sees (others left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = (
        select(orders, channels.c.code.label("channel"), customers.c.code.label("customer"))
        .join(channels, channels.c.id == orders.c.channel_id)
        .outerjoin(customers, customers.c.id == orders.c.customer_id)
        .where(among(orders.c.id, wanted))
    )
    seen = order_condition(scope)
    if seen is not None:
        heads = conn.execute(query.where(seen)).all()
        wanted = [h.id for h in heads]
        if not wanted:
            return {}
    else:
        heads = conn.execute(query).all()
    lines = _line_views(conn, wanted, {h.id: h.reservation_id for h in heads})
    notes: dict[str, list[str]] = defaultdict(list)
    for d in conn.execute(
        select(order_decisions.c.order_id, order_decisions.c.message)
        .where(among(order_decisions.c.order_id, wanted))
        .order_by(order_decisions.c.id)
    ):
        notes[d.order_id].append(d.message)
    return {
        h.id: OrderView(
            id=h.id,
            channel=h.channel,
            external_id=h.external_id,
            customer=h.customer,
            ship_to=h.ship_to,
            status=h.status,
            hold_reason=h.hold_reason,
            promise_date=h.promise_date,
            value=h.value,
            reservation_id=h.reservation_id,
            created_at=h.created_at,
            updated_at=h.updated_at,
            lines=tuple(lines[h.id]),
            decisions=tuple(notes[h.id]),
        )
        for h in heads
    }


def _line_views(
    conn: Connection, wanted: list[str], reservation_of: dict[str, str]
) -> dict[str, list[OrderLineView]]:
    """Each order's lines with what they hold and have shipped (kit lines by their parts)."""
    held = _held_per_line(conn, list(reservation_of.values()))
    lines: dict[str, list[OrderLineView]] = defaultdict(list)
    line_rows = conn.execute(
        select(order_lines, skus.c.code.label("sku"))
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .where(among(order_lines.c.order_id, wanted))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    ).all()
    recipes = kit_recipes(conn, (r.sku_id for r in line_rows))
    for r in line_rows:
        parts = held.get((reservation_of[r.order_id], r.line_no), {})
        allocated, shipped = _in_line_units(r.sku_id, parts, recipes.get(r.sku_id))
        lines[r.order_id].append(
            OrderLineView(
                r.line_no,
                r.sku,
                int(r.qty),
                r.unit_price,
                allocated,
                shipped,
                int(r.cancelled_qty),
            )
        )
    return lines


def load_order(conn: Connection, order_id: str, *, scope: Scope = EVERYWHERE) -> OrderView:
    """One order the scope sees, or ``UnknownOrder``."""
    found = load_orders(conn, [order_id], scope=scope).get(order_id)
    if found is None:
        raise UnknownOrder(f"no order {order_id!r}", field="order_id")
    return found


def order_page(
    conn: Connection,
    *,
    status: str | None = None,
    channel: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 100,
    scope: Scope = EVERYWHERE,
) -> list[OrderView]:
    """Up to ``limit`` orders the scope sees, newest first, after ``before`` (created at, id)."""
    query = (
        select(orders.c.id).order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
    )
    if status is not None:
        if status not in {s.value for s in OrderStatus}:
            choices = ", ".join(s.value for s in OrderStatus)
            raise InvalidInput(f"use one of: {choices}", field="status")
        query = query.where(orders.c.status == status)
    if channel is not None:
        query = query.join(channels, channels.c.id == orders.c.channel_id).where(
            channels.c.code == channel
        )
    if before is not None:
        at, order_id = before
        query = query.where(
            or_(
                orders.c.created_at < at,
                (orders.c.created_at == at) & (orders.c.id < order_id),
            )
        )
    seen = order_condition(scope)
    if seen is not None:
        query = query.where(seen)
    ids = list(conn.execute(query).scalars())
    views = load_orders(conn, ids)
    return [views[i] for i in ids]


def _held_per_line(
    conn: Connection, reservation_ids: list[str]
) -> dict[tuple[str, int], dict[int, tuple[int, int]]]:
    """(reservation, line) -> {sku id: (units held, units shipped)}."""
    if not reservation_ids:
        return {}
    open_qty = allocation_open_qty
    rows = conn.execute(
        select(
            allocations.c.reservation_id,
            allocations.c.line_no,
            positions.c.sku_id,
            func.sum(open_qty).label("held"),
            func.sum(allocations.c.consumed_qty).label("shipped"),
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(among(allocations.c.reservation_id, reservation_ids))
        .group_by(allocations.c.reservation_id, allocations.c.line_no, positions.c.sku_id)
    )
    out: dict[tuple[str, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    for r in rows:
        out[(r.reservation_id, r.line_no)][r.sku_id] = (int(r.held), int(r.shipped))
    return out


def kit_recipes(conn: Connection, sku_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """Kit SKU id -> {component SKU id: units per kit}, for those of ``sku_ids`` that are kits."""
    wanted = sorted(set(sku_ids))
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    if wanted:
        for k in conn.execute(
            select(kit_components).where(among(kit_components.c.kit_sku_id, wanted))
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
    kits = select(kit_components.c.kit_sku_id).where(
        among(kit_components.c.component_sku_id, wanted)
    )
    lines = select(order_lines.c.order_id).where(
        or_(among(order_lines.c.sku_id, wanted), order_lines.c.sku_id.in_(kits))
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
    rows = conn.execute(select(orders.c.id, orders.c.status).where(among(orders.c.id, order_ids)))
    return {r.id: r.status for r in rows}
