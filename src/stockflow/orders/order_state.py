"""An order's row as the other order services change it: lock, status, notes, exceptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import emit
from stockflow.adapters.tables import (
    exceptions,
    order_decisions,
    orders,
)
from stockflow.orders.queries.orders import UnknownOrder, load_order
from stockflow.orders.rules.orders import (
    OrderStatus,
    next_status,
    status_after_allocation,
)

WAITING = (OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_ALLOCATED.value)


def lock_order(conn: Connection, order_id: str) -> str:
    """Lock the order row (every change to an order queues here); its status."""
    status = conn.execute(
        select(orders.c.status).where(orders.c.id == order_id).with_for_update()
    ).scalar()
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
    resolve_exceptions(conn, order_id, ("stuck_order",), now)


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


def settle_status(conn: Connection, order_id: str, now: datetime) -> None:
    """Set a waiting or allocated order's status from what it now holds."""
    view = load_order(conn, order_id)
    if view.status not in (*WAITING, OrderStatus.ALLOCATED.value):
        return
    ordered = sum(ln.qty - ln.cancelled for ln in view.lines)
    held = sum(ln.allocated + ln.shipped for ln in view.lines)
    new = next_status(view.status, status_after_allocation(ordered=ordered, allocated=held))
    set_status(conn, order_id, new, now)


def raise_exception(
    conn: Connection, kind: str, message: str, *, now: datetime, order_id: str | None = None,
    sku_id: int | None = None, reference: str | None = None,
) -> None:  # fmt: skip
    """Put a surprise in the one queue customer service and the warehouse both watch.

    An ``exception.raised`` event goes out through the outbox with it.
    """
    emit(conn, "exception.raised", exception_event(kind, message, order_id, reference),
         key=order_id, now=now)  # fmt: skip
    conn.execute(
        exceptions.insert().values(
            kind=kind,
            state="open",
            order_id=order_id,
            sku_id=sku_id,
            message=message,
            reference=reference,
            created_at=now,
            updated_at=now,
        )
    )


def exception_event(
    kind: str, message: str, order_id: str | None, reference: str | None
) -> dict[str, object]:
    """The payload of an ``exception.raised`` event."""
    return {"kind": kind, "message": message, "order_id": order_id, "reference": reference}
