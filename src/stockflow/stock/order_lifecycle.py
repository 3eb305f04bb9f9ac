"""An order's row as every feature changes it: lock, status and the notes on its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.tables import order_decisions, orders
from stockflow.stock.exceptions import resolve_exceptions
from stockflow.stock.queries.orders import UnknownOrder, load_order
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.order_lifecycle import (
    WAITING,
    OrderStatus,
    next_status,
    status_after_allocation,
)
from stockflow.stock.visibility import order_condition


def lock_order(conn: Connection, order_id: str, *, scope: Scope = EVERYWHERE) -> str:
    """Lock the order row (every change to an order queues here); its status.

    An order the scope does not see is unknown, word for word.
    """
    query = select(orders.c.status).where(orders.c.id == order_id)
    seen = order_condition(scope)
    if seen is not None:
        query = query.where(seen)
    status = conn.execute(query.with_for_update()).scalar()
    if status is None:
        raise UnknownOrder(f"no order {order_id!r}", field="order_id")
    return str(status)


def note(conn: Connection, order_id: str, message: str, *, actor: str, now: datetime) -> None:
    """Write down a decision on the order, with who took it."""
    conn.execute(
        order_decisions.insert().values(order_id=order_id, at=now, actor=actor, message=message)
    )


def set_status(conn: Connection, order_id: str, status: OrderStatus, now: datetime) -> None:
    """Store the order's new status (already checked against the transition table).

    A move is progress: a stuck-order exception raised for the order is resolved.
    """
    conn.execute(
        update(orders).where(orders.c.id == order_id).values(status=status.value, updated_at=now)
    )
    resolve_exceptions(conn, order_id, (ExceptionKind.STUCK_ORDER,), now)


def settle_status(conn: Connection, order_id: str, now: datetime) -> None:
    """Set a waiting or allocated order's status from what it now holds."""
    view = load_order(conn, order_id)
    if view.status not in (*WAITING, OrderStatus.ALLOCATED.value):
        return
    ordered = sum(ln.qty - ln.cancelled for ln in view.lines)
    held = sum(ln.allocated + ln.shipped for ln in view.lines)
    new = next_status(view.status, status_after_allocation(ordered=ordered, allocated=held))
    set_status(conn, order_id, new, now)
