"""An order's lifecycle as one transition table, and its shipments' states.

Shared by every feature that moves an order on: capture, the floor, returns.
"""

from __future__ import annotations

from enum import StrEnum

from stockflow.errors import Conflict


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    DRAFT = "draft"
    ON_HOLD = "on_hold"
    ALLOCATED = "allocated"
    PARTIALLY_ALLOCATED = "partially_allocated"
    BACKORDERED = "backordered"
    RELEASED = "released"
    PICKING = "picking"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class OrderEvent(StrEnum):
    """What can happen to an order."""

    HOLD = "hold"
    ALLOCATE = "allocate"  # fully allocated
    ALLOCATE_PART = "allocate_part"
    BACKORDER = "backorder"
    RELEASE = "release"  # to the warehouse floor
    START_PICKING = "start_picking"
    PACK = "pack"
    SHIP = "ship"
    DELIVER = "deliver"
    CANCEL = "cancel"
    CLOSE = "close"


S, E = OrderStatus, OrderEvent
_WAITING = (S.ALLOCATED, S.PARTIALLY_ALLOCATED, S.BACKORDERED)

TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (S.DRAFT, E.HOLD): S.ON_HOLD,
    (S.DRAFT, E.ALLOCATE): S.ALLOCATED,
    (S.DRAFT, E.ALLOCATE_PART): S.PARTIALLY_ALLOCATED,
    (S.DRAFT, E.BACKORDER): S.BACKORDERED,
    (S.DRAFT, E.CANCEL): S.CANCELLED,
    (S.ON_HOLD, E.ALLOCATE): S.ALLOCATED,
    (S.ON_HOLD, E.ALLOCATE_PART): S.PARTIALLY_ALLOCATED,
    (S.ON_HOLD, E.BACKORDER): S.BACKORDERED,
    (S.ON_HOLD, E.CANCEL): S.CANCELLED,
    **{(state, E.ALLOCATE): S.ALLOCATED for state in _WAITING},
    **{(state, E.ALLOCATE_PART): S.PARTIALLY_ALLOCATED for state in _WAITING},
    **{(state, E.BACKORDER): S.BACKORDERED for state in _WAITING},
    **{(state, E.CANCEL): S.CANCELLED for state in _WAITING},
    (S.ALLOCATED, E.HOLD): S.ON_HOLD,
    (S.PARTIALLY_ALLOCATED, E.HOLD): S.ON_HOLD,
    (S.BACKORDERED, E.HOLD): S.ON_HOLD,
    (S.ALLOCATED, E.RELEASE): S.RELEASED,
    (S.PARTIALLY_ALLOCATED, E.RELEASE): S.RELEASED,
    (S.RELEASED, E.START_PICKING): S.PICKING,
    # A short pick or a count took units back: the order waits again.
    (S.RELEASED, E.BACKORDER): S.BACKORDERED,
    (S.PICKING, E.BACKORDER): S.BACKORDERED,
    (S.RELEASED, E.CANCEL): S.CANCELLED,
    (S.PICKING, E.PACK): S.PACKED,
    (S.PICKING, E.CANCEL): S.CANCELLED,
    (S.PACKED, E.SHIP): S.SHIPPED,
    (S.SHIPPED, E.DELIVER): S.DELIVERED,
    (S.DELIVERED, E.CLOSE): S.CLOSED,
    (S.CANCELLED, E.CLOSE): S.CLOSED,
}
"""Every legal step; anything else is an ``IllegalTransition``."""

OPEN_STATES = frozenset({S.DRAFT, S.ON_HOLD, *_WAITING, S.RELEASED, S.PICKING, S.PACKED})
"""Orders that may still hold stock."""

WAITING = (OrderStatus.BACKORDERED.value, OrderStatus.PARTIALLY_ALLOCATED.value)
"""Orders that wait for stock: backorder fills look at these."""


class IllegalTransition(Conflict):
    """The order cannot go that way from where it is."""

    title = "Illegal transition"


def next_status(current: str, event: OrderEvent) -> OrderStatus:
    """The status after ``event``, or ``IllegalTransition``."""
    state = OrderStatus(current)
    found = TRANSITIONS.get((state, event))
    if found is None:
        where, what = state.value.replace("_", " "), event.value.replace("_", " ")
        raise IllegalTransition(f"an order that is {where} cannot {what}", field="status")
    return found


def status_after_allocation(*, ordered: int, allocated: int) -> OrderEvent:
    """Which allocation event describes an order with this much of its quantity allocated."""
    if allocated >= ordered:
        return OrderEvent.ALLOCATE
    if allocated > 0:
        return OrderEvent.ALLOCATE_PART
    return OrderEvent.BACKORDER


class ShipmentStatus(StrEnum):
    """Where a shipment is, as the carrier's scans tell it."""

    PACKING = "packing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"  # damaged, refused, address problem: the carrier decides what next
    RETURNED = "returned"
