"""Orders: their lifecycle as one transition table, and the rules a channel sets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput


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


class BackorderPolicy(StrEnum):
    """What a channel does with an order it cannot fill now."""

    ALLOW = "allow"
    REJECT = "reject"
    ALLOW_DAYS = "allow_days"  # only when a promise date is at most N days away


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """The rules a channel applies at capture."""

    id: int
    code: str
    priority: int  # higher wins
    ship_from: tuple[int, ...]  # location ids; empty = every sellable location
    max_splits: int  # locations one order may ship from
    allow_partial: bool
    backorder_policy: BackorderPolicy
    backorder_days: int | None
    hold_over_value: Decimal | None
    hold_new_customers: bool

    def accepts_backorder(self, promise: date | None, today: date) -> bool:
        """Whether an unfilled order may wait, given its promise date (if any)."""
        if self.backorder_policy is BackorderPolicy.ALLOW:
            return True
        if self.backorder_policy is BackorderPolicy.REJECT:
            return False
        return promise is not None and (promise - today).days <= (self.backorder_days or 0)


def checked_policy(value: str, days: int | None) -> tuple[BackorderPolicy, int | None]:
    """A backorder policy with its day limit, checked."""
    try:
        policy = BackorderPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in BackorderPolicy)
        raise InvalidInput(f"use one of: {choices}", field="backorder_policy") from None
    if policy is BackorderPolicy.ALLOW_DAYS and (days is None or days < 0):
        raise InvalidInput("allow_days needs a number of days >= 0", field="backorder_days")
    return policy, days if policy is BackorderPolicy.ALLOW_DAYS else None


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance, or None when either end's coordinates are unknown."""
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))
