"""Releasing orders to the floor in waves, and confirming picks (whole or short).

A wave groups orders of one location; its pick list is every open task
sorted in walking order (bin sequence). Confirming a pick carries the units
and their allocation to the staging bin. A short pick corrects the bin with a
count correction and re-allocates through ``losses``, the same path a count
takes, so the customer never waits on a shipment that will not ship.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    channels,
    orders,
    pick_tasks,
    positions,
    waves,
)
from stockflow.errors import Conflict, InvalidInput, NotFound
from stockflow.floor.pick_tasks import finish_wave, open_wave, task_order
from stockflow.floor.rules import TaskEvent, next_task_status
from stockflow.stock.bins import Carry, carry, release_at, work_bin
from stockflow.stock.losses import (
    Lost,
    after_loss,
    correct_position,
    lock_orders,
    orders_holding,
)
from stockflow.stock.order_lifecycle import lock_order, note, set_status
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.order_lifecycle import OrderEvent, OrderStatus, next_status
from stockflow.stock.rules.places import BinRole
from stockflow.stock.scoping import seen


class UnknownWave(NotFound):
    """No wave has that id."""

    title = "Unknown wave"


class UnknownTask(NotFound):
    """No pick task has that id."""

    title = "Unknown pick task"


@dataclass(frozen=True, slots=True)
class WaveRequest:
    """Which orders a new wave takes: at a location, up to a count, captured before a cut-off."""

    location: str
    max_orders: int = 20
    cutoff: datetime | None = None
    order_ids: tuple[str, ...] = ()


def release_orders(
    conn: Connection, order_ids: list[str], *, actor: str, now: datetime,
    scope: Scope = EVERYWHERE,
) -> list[str]:  # fmt: skip
    """Release allocated orders to the floor (each must be fully allocated); their ids.

    An order ``scope`` does not see is refused as an unknown one.
    """
    for oid in sorted(set(order_ids)):
        status = lock_order(conn, oid, scope=scope)
        set_status(conn, oid, next_status(status, OrderEvent.RELEASE), now)
        note(conn, oid, "released to the warehouse floor", actor=actor, now=now)
    return sorted(set(order_ids))


def build_wave(
    conn: Connection, location_id: int, request: WaveRequest, *, actor: str, now: datetime,
    scope: Scope = EVERYWHERE,
) -> str | None:  # fmt: skip
    """Group released (or allocated) orders holding stock at a location into one wave.

    Highest channel priority first, then oldest; an explicit list of orders
    is taken as it is. Returns the wave id, or None when no order qualifies.
    Only orders ``scope`` sees are taken; one it does not see, named in the
    list, is refused as an unknown one.
    """
    chosen = _candidates(conn, location_id, request, scope)
    if not chosen:
        return None
    wave_id = open_wave(conn, location_id, actor=actor, now=now, cutoff=request.cutoff)
    for oid in sorted(chosen):
        status = lock_order(conn, oid, scope=scope)
        if status == OrderStatus.ALLOCATED.value:
            status = next_status(status, OrderEvent.RELEASE).value
        if status not in (OrderStatus.RELEASED.value, OrderStatus.PICKING.value):
            raise Conflict(f"order {oid} is {status}, not ready for the floor", field="orders")
        if task_order(conn, wave_id, location_id, oid) == 0:
            raise Conflict(f"order {oid} holds nothing to pick here", field="orders")
        set_status(conn, oid, OrderStatus.PICKING, now)
        note(conn, oid, f"in wave {wave_id}", actor=actor, now=now)
    return wave_id


def _candidates(
    conn: Connection, location_id: int, request: WaveRequest, scope: Scope
) -> list[str]:
    if request.order_ids:
        return list(dict.fromkeys(request.order_ids))
    if request.max_orders < 1:
        raise InvalidInput("a wave takes at least one order", field="max_orders")
    query = (
        select(orders.c.id)
        .join(channels, channels.c.id == orders.c.channel_id)
        .join(allocations, allocations.c.reservation_id == orders.c.reservation_id)
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(
            orders.c.status.in_([OrderStatus.ALLOCATED.value, OrderStatus.RELEASED.value]),
            positions.c.location_id == location_id,
            allocation_open_qty > 0,
            *seen(scope, order=orders.c.id),
        )
        .group_by(orders.c.id, channels.c.priority, orders.c.created_at)
        .order_by(channels.c.priority.desc(), orders.c.created_at, orders.c.id)
        .limit(request.max_orders)
    )
    if request.cutoff is not None:
        query = query.where(orders.c.created_at <= request.cutoff)
    return [r.id for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class PickResult:
    """What a confirmed pick did; ``short`` units were not there and ``orders`` were told."""

    task_id: int
    picked: int
    short: int
    lost: Lost | None  # orders that lost units, to re-allocate once this pick commits


def confirm_pick(
    conn: Connection, task_id: int, picked: int, *, actor: str, today: date,
    now: datetime, left_in_bin: int = 0, scope: Scope = EVERYWHERE,
) -> PickResult:  # fmt: skip
    """The picker took ``picked`` units for a task; fewer than asked is a short pick.

    On a short pick ``left_in_bin`` is what the picker sees left (usually 0):
    the bin is corrected to it with a count-correction move. A task of a wave
    outside ``scope`` is refused as an unknown one.
    """
    task = _task(conn, task_id, scope)
    held = {task.order_id}
    if picked < task.qty - task.picked_qty - task.short_qty:
        # A short pick may take units from every order holding this bin: lock them all
        # now, in the one order every multi-order path uses, before any position.
        held = set()
        lock_orders(conn, [task.order_id, *orders_holding(conn, task.position_id)], held)
    status = lock_order(conn, task.order_id)
    if status != OrderStatus.PICKING.value:
        raise Conflict(
            f"order {task.order_id} is {status}: leave the units in the bin", field="task"
        )
    next_task_status(task_id, task.status, TaskEvent.PICK)  # only an open task is picked
    wanted = int(task.qty - task.picked_qty - task.short_qty)
    if picked < 0 or picked > wanted:
        raise InvalidInput(f"pick between 0 and {wanted} units", field="qty")
    if left_in_bin < 0:
        raise InvalidInput("units left in the bin cannot be negative", field="left_in_bin")
    if picked:
        _stage(conn, task, picked, actor=actor, now=now)
    short = wanted - picked
    conn.execute(
        update(pick_tasks)
        .where(pick_tasks.c.id == task_id)
        .values(
            picked_qty=pick_tasks.c.picked_qty + picked,
            short_qty=short,
            status=next_task_status(
                task_id, task.status, TaskEvent.PICK_SHORT if short else TaskEvent.PICK
            ).value,
            picked_by=actor,
            picked_at=now,
        )
    )
    told = None
    if short:
        told = _short(conn, task, short, left_in_bin, held=held, actor=actor, today=today, now=now)
    finish_wave(conn, task.wave_id, now)
    return PickResult(task_id, picked, short, told)


@dataclass(frozen=True, slots=True)
class _Task:
    id: int
    wave_id: str
    order_id: str
    allocation_id: int
    position_id: int
    location_id: int
    qty: int
    picked_qty: int
    short_qty: int
    status: str


def _task(conn: Connection, task_id: int, scope: Scope) -> _Task:
    row = conn.execute(
        select(
            pick_tasks.c.id, pick_tasks.c.wave_id, pick_tasks.c.order_id,
            pick_tasks.c.allocation_id, pick_tasks.c.position_id, positions.c.location_id,
            pick_tasks.c.qty, pick_tasks.c.picked_qty, pick_tasks.c.short_qty,
            pick_tasks.c.status,
        )
        .join(positions, positions.c.id == pick_tasks.c.position_id)
        .join(waves, waves.c.id == pick_tasks.c.wave_id)
        .where(pick_tasks.c.id == task_id, *seen(scope, location=waves.c.location_id))
    ).first()  # fmt: skip
    if row is None:
        raise UnknownTask(f"no pick task {task_id}", field="task")
    return _Task(**row._mapping)


def _stage(conn: Connection, task: _Task, qty: int, *, actor: str, now: datetime) -> None:
    """Carry picked units and their allocation from the bin to the staging bin."""
    stage_id, _ = work_bin(conn, task.location_id, BinRole.STAGING)
    cmd = Carry(
        task.allocation_id,
        qty,
        stage_id,
        Reason.PICK.value,
        actor,
        reference=f"wave:{task.wave_id}",
    )
    carry(conn, cmd, now=now)


def _short(
    conn: Connection, task: _Task, short: int, left_in_bin: int, *,
    held: set[str], actor: str, today: date, now: datetime,
) -> Lost:  # fmt: skip
    """Give back the units that were not there, correct the bin, tell who lost units."""
    release_at(conn, task.allocation_id, short, now=now)
    reference = f"short-pick:{task.id}"
    why = f"short pick by {actor} in wave {task.wave_id}"
    fix = correct_position(
        conn, task.position_id, left_in_bin, actor=actor, reference=reference,
        note_text=f"{why}: {left_in_bin} left in the bin", now=now, held=held,
    )  # fmt: skip
    lost = dict(fix.taken)
    lost[task.order_id] = lost.get(task.order_id, 0) + short
    return after_loss(
        conn, lost, fix.position, kind=ExceptionKind.SHORT_PICK, why=why, actor=actor,
        reference=reference, today=today, now=now,
    )  # fmt: skip
