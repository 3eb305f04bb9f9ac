"""The exceptions queue's vocabulary: what can go wrong, and how an exception is worked off."""

from __future__ import annotations

from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput


class ExceptionKind(StrEnum):
    """Every kind of surprise the queue holds; both sides of the business read the same list."""

    ATP_FAILURE = "atp_failure"  # an order could not be filled at capture
    ORDER_ON_HOLD = "order_on_hold"  # a channel rule held an order for a person to look at
    LATE_BACKORDER = "late_backorder"  # a waiting order is past its promise date
    STUCK_ORDER = "stuck_order"  # an open order has not moved for too long
    PUT_BACK = "put_back"  # picked units of a cancelled order wait in staging
    SHORT_PICK = "short_pick"  # a picker found fewer units than the books said
    COUNT_VARIANCE = "count_variance"  # a count differs from the books
    RECEIVING_DISCREPANCY = "receiving_discrepancy"  # a delivery differs from its document
    TRANSFER_DISCREPANCY = "transfer_discrepancy"  # a transfer arrived short or damaged
    SHIPMENT_EXCEPTION = "shipment_exception"  # a carrier reported a problem


class ExceptionState(StrEnum):
    """Where an exception is: new, seen by someone, or dealt with."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


_S = ExceptionState
TRANSITIONS: frozenset[tuple[ExceptionState, ExceptionState]] = frozenset(
    {
        (_S.OPEN, _S.ACKNOWLEDGED),
        (_S.OPEN, _S.RESOLVED),
        (_S.ACKNOWLEDGED, _S.ACKNOWLEDGED),
        (_S.ACKNOWLEDGED, _S.RESOLVED),
        (_S.RESOLVED, _S.RESOLVED),
    }
)
"""Every legal step a person takes (asking for the state it is in already changes nothing)."""


def exception_state(name: str) -> ExceptionState:
    """A state named in a filter, or ``InvalidInput`` listing the choices."""
    try:
        return ExceptionState(name)
    except ValueError:
        choices = ", ".join(s.value for s in ExceptionState)
        raise InvalidInput(f"use one of: {choices}", field="state") from None


def next_exception_state(exception_id: int, current: str, wanted: str) -> ExceptionState:
    """The state a person asks for, once checked against where the exception is."""
    if wanted not in (_S.ACKNOWLEDGED, _S.RESOLVED):
        raise InvalidInput("use acknowledged or resolved", field="state")
    target = ExceptionState(wanted)
    if (ExceptionState(current), target) not in TRANSITIONS:
        raise Conflict(f"exception {exception_id} is resolved already", field="state")
    return target
