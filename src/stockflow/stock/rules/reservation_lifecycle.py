"""A reservation's lifecycle: open while it holds units, closed once nothing is held."""

from __future__ import annotations

from enum import StrEnum

from stockflow.errors import ReservationClosed


class ReservationStatus(StrEnum):
    """Whether a reservation still holds units."""

    OPEN = "open"
    CLOSED = "closed"


class ReservationEvent(StrEnum):
    """What happens to a reservation."""

    CLOSE = "close"  # its last units were released or shipped
    REOPEN = "reopen"  # a backorder fill gave a waiting order's reservation units again


R, E = ReservationStatus, ReservationEvent

TRANSITIONS: dict[tuple[ReservationStatus, ReservationEvent], ReservationStatus] = {
    (R.OPEN, E.CLOSE): R.CLOSED,
    (R.CLOSED, E.REOPEN): R.OPEN,
}
"""Every legal step of a reservation."""


def check_open(reservation_id: str, current: str) -> None:
    """Only an open reservation gives units back or ships them."""
    if (ReservationStatus(current), E.CLOSE) not in TRANSITIONS:
        raise ReservationClosed(f"reservation {reservation_id} is closed", field="reservation_id")
