"""Waves and their pick tasks: what a picker is sent to take from which bin.

A task is one allocation at one storage bin; picking it carries the units and
their allocation to the location's staging bin. Tasks are made from what an
order holds at the moment it is released, and again whenever it is
re-allocated while on the floor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, update

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    bins,
    orders,
    pick_tasks,
    positions,
    waves,
)
from stockflow.floor.rules import TaskEvent, TaskStatus, WaveEvent, WaveStatus, task_step, wave_step
from stockflow.stock.ids import new_id
from stockflow.stock.order_lifecycle import lock_order, note, set_status
from stockflow.stock.rules.events import StockTakenBack
from stockflow.stock.rules.order_lifecycle import OrderEvent, OrderStatus, next_status
from stockflow.stock.rules.places import BinRole

PICKABLE_ROLES = (BinRole.STORAGE.value, BinRole.RECEIVING.value)
"""Bins a picker takes from; staged units are already picked."""


def open_wave(
    conn: Connection, location_id: int, *, actor: str, now: datetime,
    cutoff: datetime | None = None,
) -> str:  # fmt: skip
    """Start a new wave at a location; its id."""
    wave_id = new_id("W")
    conn.execute(
        waves.insert().values(
            id=wave_id,
            location_id=location_id,
            status=WaveStatus.OPEN.value,
            cutoff=cutoff,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    )
    return wave_id


def task_order(conn: Connection, wave_id: str, location_id: int, order_id: str) -> int:
    """Add pick tasks for what the order holds in the location's pickable bins; how many.

    Units already covered by an open task are not tasked twice, so calling
    this again after a re-allocation only adds the new allocations.
    """
    tasked = (
        select(
            pick_tasks.c.allocation_id,
            func.sum(pick_tasks.c.qty - pick_tasks.c.picked_qty - pick_tasks.c.short_qty).label(
                "left"
            ),
        )
        .where(pick_tasks.c.status == "open")
        .group_by(pick_tasks.c.allocation_id)
        .subquery()
    )
    reservation_id = select(orders.c.reservation_id).where(orders.c.id == order_id)
    rows = conn.execute(
        select(
            allocations.c.id,
            allocations.c.position_id,
            positions.c.sku_id,
            bins.c.sequence,
            (allocation_open_qty - func.coalesce(tasked.c.left, 0)).label("untasked"),
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .outerjoin(tasked, tasked.c.allocation_id == allocations.c.id)
        .where(
            allocations.c.reservation_id == reservation_id.scalar_subquery(),
            positions.c.location_id == location_id,
            bins.c.role.in_(PICKABLE_ROLES),
        )
        .order_by(bins.c.sequence, bins.c.code, allocations.c.id)
    ).all()
    wanted = [r for r in rows if r.untasked > 0]
    if not wanted:
        return 0
    tote = _tote(conn, wave_id, order_id)
    conn.execute(
        pick_tasks.insert(),
        [
            {
                "wave_id": wave_id,
                "order_id": order_id,
                "allocation_id": r.id,
                "position_id": r.position_id,
                "sku_id": r.sku_id,
                "qty": int(r.untasked),
                "tote": tote,
                "sequence": int(r.sequence),
                "status": TaskStatus.OPEN.value,
            }
            for r in wanted
        ],
    )
    return len(wanted)


def _tote(conn: Connection, wave_id: str, order_id: str) -> str:
    """The order's tote in this wave: the one it has, else the next free number."""
    existing = conn.execute(
        select(pick_tasks.c.tote)
        .where(pick_tasks.c.wave_id == wave_id, pick_tasks.c.order_id == order_id)
        .limit(1)
    ).scalar()
    if existing is not None:
        return str(existing)
    used = conn.execute(
        select(func.count(func.distinct(pick_tasks.c.order_id))).where(
            pick_tasks.c.wave_id == wave_id
        )
    ).scalar_one()
    return f"T{int(used) + 1:02d}"


def retire_tasks(conn: Connection, order_ids: set[str], now: datetime) -> int:
    """Cancel open tasks whose allocation no longer holds what they would pick; how many.

    After a cancellation, a short pick or a count takes units from an order,
    its tasks for those units must not send a picker to the bin.
    """
    if not order_ids:
        return 0
    was, retired = task_step(TaskEvent.RETIRE)
    rows = conn.execute(
        select(
            pick_tasks.c.id,
            (pick_tasks.c.qty - pick_tasks.c.picked_qty - pick_tasks.c.short_qty).label("left"),
            allocation_open_qty.label("held"),
        )
        .join(allocations, allocations.c.id == pick_tasks.c.allocation_id)
        .where(among(pick_tasks.c.order_id, order_ids), pick_tasks.c.status == was.value)
    ).all()
    stale = [r.id for r in rows if r.held < r.left]
    if stale:
        conn.execute(
            update(pick_tasks).where(among(pick_tasks.c.id, stale)).values(status=retired.value)
        )
        touched = conn.execute(
            select(pick_tasks.c.wave_id).where(among(pick_tasks.c.id, stale)).distinct()
        )
        for (wave_id,) in touched.all():
            finish_wave(conn, wave_id, now)
    return len(stale)


def finish_wave(conn: Connection, wave_id: str, now: datetime) -> None:
    """A wave with no open task left is done."""
    still_open = conn.execute(
        select(pick_tasks.c.id)
        .where(pick_tasks.c.wave_id == wave_id, pick_tasks.c.status == TaskStatus.OPEN.value)
        .limit(1)
    ).first()
    if still_open is None:
        was, done = wave_step(WaveEvent.FINISH)
        conn.execute(
            update(waves)
            .where(waves.c.id == wave_id, waves.c.status == was.value)
            .values(status=done.value, updated_at=now)
        )


def follow_carried(conn: Connection, allocation_ids: list[int], now: datetime) -> int:
    """Send pickers to where promised units were carried (a put-away); tasks re-made.

    Open tasks on these allocations would send a picker to the old bin: they
    are cancelled and the same wave gets tasks for the bins the units are in now.
    """
    if not allocation_ids:
        return 0
    rows = conn.execute(
        select(pick_tasks.c.wave_id, pick_tasks.c.order_id, waves.c.location_id)
        .join(waves, waves.c.id == pick_tasks.c.wave_id)
        .where(
            among(pick_tasks.c.allocation_id, allocation_ids),
            pick_tasks.c.status == TaskStatus.OPEN.value,
        )
        .distinct()
    ).all()
    if not rows:
        return 0
    retire_tasks(conn, {r.order_id for r in rows}, now)
    made = sum(task_order(conn, r.wave_id, int(r.location_id), r.order_id) for r in rows)
    was, reopened = wave_step(WaveEvent.REOPEN)
    for r in rows:
        conn.execute(
            update(waves)
            .where(waves.c.id == r.wave_id, waves.c.status == was.value)
            .values(status=reopened.value, updated_at=now)
        )
        finish_wave(conn, r.wave_id, now)
    return made


def return_to_floor(conn: Connection, taken: StockTakenBack, *, now: datetime) -> None:
    """Orders a loss took off the floor and that have stock again go back to a wave."""
    for order_id, was_on_floor in taken.on_floor:
        if was_on_floor and lock_order(conn, order_id) == OrderStatus.ALLOCATED.value:
            back_to_floor(conn, order_id, actor=taken.actor, now=now)


def back_to_floor(conn: Connection, order_id: str, *, actor: str, now: datetime) -> str:
    """Release a re-allocated order to the floor again: into its open wave where it can."""
    status = next_status(lock_order(conn, order_id), OrderEvent.RELEASE)
    set_status(conn, order_id, status, now)
    last = conn.execute(
        select(waves.c.id, waves.c.location_id)
        .join(pick_tasks, pick_tasks.c.wave_id == waves.c.id)
        .where(pick_tasks.c.order_id == order_id, waves.c.status == WaveStatus.OPEN.value)
        .order_by(waves.c.created_at.desc())
        .limit(1)
    ).first()
    locations = _held_at(conn, order_id)
    for location_id in sorted(locations):
        if last is not None and last.location_id == location_id:
            wave_id = str(last.id)
        else:
            wave_id = open_wave(conn, location_id, actor=actor, now=now)
        task_order(conn, wave_id, location_id, order_id)
    note(conn, order_id, "back on the floor with its new allocation", actor=actor, now=now)
    started = next_status(status, OrderEvent.START_PICKING)
    set_status(conn, order_id, started, now)
    return started.value


def _held_at(conn: Connection, order_id: str) -> set[int]:
    """Locations where the order holds units still to be picked."""
    rows = conn.execute(
        select(positions.c.location_id)
        .join(allocations, allocations.c.position_id == positions.c.id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .where(orders.c.id == order_id, allocation_open_qty > 0, bins.c.role.in_(PICKABLE_ROLES))
        .distinct()
    )
    return {int(r.location_id) for r in rows}
