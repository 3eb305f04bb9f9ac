"""The floor's lifecycles as transition tables: shipments (by carrier scans), pick tasks, waves."""

from __future__ import annotations

from enum import StrEnum

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


class TaskStatus(StrEnum):
    """Where a pick task is: waiting for a picker, or done one way or another."""

    OPEN = "open"
    PICKED = "picked"
    SHORT = "short"  # the bin held fewer units than the task asked for
    CANCELLED = "cancelled"  # its allocation no longer holds the units (cancel, loss, put-away)


class TaskEvent(StrEnum):
    """What happens to a pick task."""

    PICK = "pick"
    PICK_SHORT = "pick_short"
    RETIRE = "retire"


T, TE = TaskStatus, TaskEvent

TASK_TRANSITIONS: dict[tuple[TaskStatus, TaskEvent], TaskStatus] = {
    (T.OPEN, TE.PICK): T.PICKED,
    (T.OPEN, TE.PICK_SHORT): T.SHORT,
    (T.OPEN, TE.RETIRE): T.CANCELLED,
}
"""Every legal step of a pick task: only an open task moves, and only once."""


def next_task_status(task_id: int, current: str, event: TaskEvent) -> TaskStatus:
    """The task's status after ``event``; a task that is not open says what it is."""
    found = TASK_TRANSITIONS.get((TaskStatus(current), event))
    if found is None:
        raise Conflict(f"pick task {task_id} is already {current}", field="task")
    return found


def task_step(event: TaskEvent) -> tuple[TaskStatus, TaskStatus]:
    """The one (from, to) step ``event`` takes, for updates of many tasks at once."""
    [step] = [(was, to) for (was, on), to in TASK_TRANSITIONS.items() if on is event]
    return step


class WaveStatus(StrEnum):
    """A wave is open while a task of it is; done when none is."""

    OPEN = "open"
    DONE = "done"


class WaveEvent(StrEnum):
    """What happens to a wave."""

    FINISH = "finish"  # its last open task was picked, short-picked or retired
    REOPEN = "reopen"  # new tasks joined it (units it was to pick were put away elsewhere)


W, WE = WaveStatus, WaveEvent

WAVE_TRANSITIONS: dict[tuple[WaveStatus, WaveEvent], WaveStatus] = {
    (W.OPEN, WE.FINISH): W.DONE,
    (W.DONE, WE.REOPEN): W.OPEN,
}
"""Every legal step of a wave."""


def wave_step(event: WaveEvent) -> tuple[WaveStatus, WaveStatus]:
    """The one (from, to) step ``event`` takes, for a guarded update."""
    [step] = [(was, to) for (was, on), to in WAVE_TRANSITIONS.items() if on is event]
    return step
