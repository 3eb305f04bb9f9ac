"""Shipments: the carrier's tracking lifecycle as one transition table."""

from __future__ import annotations

from stockflow.errors import Conflict, InvalidInput
from stockflow.stock.rules.order_lifecycle import ShipmentStatus

S = ShipmentStatus

TRACKING_TRANSITIONS: dict[tuple[ShipmentStatus, ShipmentStatus], ShipmentStatus] = {
    (S.PACKING, S.SHIPPED): S.SHIPPED,
    (S.SHIPPED, S.IN_TRANSIT): S.IN_TRANSIT,
    (S.SHIPPED, S.OUT_FOR_DELIVERY): S.OUT_FOR_DELIVERY,
    (S.SHIPPED, S.DELIVERED): S.DELIVERED,
    (S.SHIPPED, S.EXCEPTION): S.EXCEPTION,
    # Every hub scans the parcel again, so in transit follows itself.
    (S.IN_TRANSIT, S.IN_TRANSIT): S.IN_TRANSIT,
    (S.IN_TRANSIT, S.OUT_FOR_DELIVERY): S.OUT_FOR_DELIVERY,
    (S.IN_TRANSIT, S.DELIVERED): S.DELIVERED,
    (S.IN_TRANSIT, S.EXCEPTION): S.EXCEPTION,
    (S.OUT_FOR_DELIVERY, S.DELIVERED): S.DELIVERED,
    (S.OUT_FOR_DELIVERY, S.EXCEPTION): S.EXCEPTION,
    (S.EXCEPTION, S.IN_TRANSIT): S.IN_TRANSIT,
    (S.EXCEPTION, S.OUT_FOR_DELIVERY): S.OUT_FOR_DELIVERY,
    (S.EXCEPTION, S.DELIVERED): S.DELIVERED,
    (S.EXCEPTION, S.RETURNED): S.RETURNED,
    (S.EXCEPTION, S.EXCEPTION): S.EXCEPTION,
}
"""Every legal step from one status to the next; anything else is ``IllegalShipmentStep``."""


class IllegalShipmentStep(Conflict):
    """The shipment cannot go to that status from where it is."""

    title = "Illegal shipment step"


def shipment_status(name: str, *, field: str = "status") -> ShipmentStatus:
    """The status called ``name``, or ``InvalidInput`` listing the choices."""
    try:
        return ShipmentStatus(name)
    except ValueError:
        choices = ", ".join(status.value for status in ShipmentStatus)
        raise InvalidInput(
            f"unknown shipment status {name!r}; choose one of {choices}", field=field
        ) from None


def next_tracking_status(current: str, new: str) -> ShipmentStatus:
    """The status after a tracking update to ``new``, or ``IllegalShipmentStep``."""
    state, wanted = shipment_status(current), shipment_status(new)
    found = TRACKING_TRANSITIONS.get((state, wanted))
    if found is None:
        allowed = sorted(to.value for (start, to) in TRACKING_TRANSITIONS if start is state)
        where = state.value.replace("_", " ")
        options = ", ".join(allowed) if allowed else "nothing, it is final"
        raise IllegalShipmentStep(
            f"a shipment that is {where} cannot become {wanted.value}; it can become {options}",
            field="status",
        )
    return found
