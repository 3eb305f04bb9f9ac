"""Carrier tracking updates: in transit, delivered, or an exception customer service must see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import shipments, tracking_events
from stockflow.floor.rules import next_tracking_status
from stockflow.floor.shipping import shipment_row
from stockflow.stock.exceptions import raise_exception
from stockflow.stock.order_events import order_scope
from stockflow.stock.order_lifecycle import lock_order, note, set_status
from stockflow.stock.queries.orders import order_statuses
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.events import OrderDelivered
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.order_lifecycle import (
    OrderEvent,
    OrderStatus,
    ShipmentStatus,
    next_status,
)


def track(
    conn: Connection, key: str, status: str, *, note_text: str | None, at: datetime,
    now: datetime, scope: Scope = EVERYWHERE,
) -> ShipmentStatus:  # fmt: skip
    """Record a tracking event for a shipment (by id or tracking number); its new status.

    Delivered shipments deliver the order once all of its shipments are
    delivered; a carrier exception goes to the exceptions queue.
    """
    row = shipment_row(conn, key, scope=scope)
    order_status = lock_order(conn, row.order_id)
    new = next_tracking_status(row.status, status)
    values: dict[str, object] = {"status": new.value, "updated_at": now}
    if new is ShipmentStatus.DELIVERED:
        values["delivered_at"] = at
    conn.execute(update(shipments).where(shipments.c.id == row.id).values(values))
    conn.execute(
        tracking_events.insert().values(shipment_id=row.id, status=new.value, note=note_text, at=at)
    )
    if new is ShipmentStatus.EXCEPTION:
        raise_exception(
            conn, ExceptionKind.SHIPMENT_EXCEPTION,
            f"carrier reports a problem with {row.tracking_no}: {note_text or 'no details'}",
            now=now, order_id=row.order_id, reference=f"shipment:{row.id}",
            location_id=int(row.location_id),
        )  # fmt: skip
    if new is ShipmentStatus.DELIVERED and order_status == OrderStatus.SHIPPED.value:
        undelivered = conn.execute(
            select(shipments.c.id).where(
                shipments.c.order_id == row.order_id,
                shipments.c.status != ShipmentStatus.DELIVERED.value,
            )
        ).first()
        if undelivered is None:
            set_status(conn, row.order_id, next_status(order_status, OrderEvent.DELIVER), now)
            note(conn, row.order_id, "delivered", actor="carrier", now=now)
    if new is ShipmentStatus.DELIVERED and row.status != new.value:
        told = order_scope(conn, row.order_id)
        status = order_statuses(conn, [row.order_id])[row.order_id]
        delivered = OrderDelivered(
            row.order_id, row.id, at, status, channel=told.channel, sites=told.sites
        )
        record(conn, delivered, now=now)
    return new
