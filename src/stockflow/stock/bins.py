"""Stock on the warehouse floor: working bins, positions by id, and allocations that move.

A pick or a put-away moves units that may already be promised to an order.
``carry`` moves them with their promise: the allocation at the old position
is marked moved and a new one holds the units at the new position, in the
same transaction as the ledger move, so I1 to I3 hold at every commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, select, update

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    bins,
    locations,
    orders,
    positions,
    skus,
)
from stockflow.adapters.upsert import upsert
from stockflow.errors import Conflict, NotFound
from stockflow.stock.changes import touched
from stockflow.stock.ledger import post_moves
from stockflow.stock.locks import lock_positions
from stockflow.stock.lookup import PositionKey
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.places import BinRole

WORK_BINS = {
    BinRole.RECEIVING: "DOCK",
    BinRole.STAGING: "STAGE",
    BinRole.QUARANTINE: "QUARANTINE",
    BinRole.RETURNS: "RETURNS",
}
"""The bin each location gets (on first use) for each working role."""


@dataclass(frozen=True, slots=True)
class PositionPlace:
    """A position with the codes a person reads."""

    id: int
    sku_id: int
    sku: str
    location_id: int
    location: str
    bin_id: int
    bin: str
    lot: str

    def place(self, bin_code: str | None = None) -> Place:
        """This position (or the same SKU and lot in another bin) as a move end."""
        return Place(self.location, bin_code or self.bin, self.lot or None)


def work_bin(conn: Connection, location_id: int, role: BinRole) -> tuple[int, str]:
    """The location's bin for ``role`` (id, code), created on first use."""
    found = conn.execute(
        select(bins.c.id, bins.c.code)
        .where(bins.c.location_id == location_id, bins.c.role == role.value)
        .order_by(bins.c.sequence, bins.c.id)
        .limit(1)
    ).first()
    if found is not None:
        return int(found.id), str(found.code)
    code = WORK_BINS[role]
    conn.execute(
        upsert(conn, bins).on_conflict_do_nothing(),
        {"location_id": location_id, "code": code, "role": role.value, "sequence": 0},
    )
    made = conn.execute(
        select(bins.c.id, bins.c.role).where(bins.c.location_id == location_id, bins.c.code == code)
    ).one()
    if made.role != role.value:
        raise Conflict(f"bin {code} exists but is a {made.role} bin", field="bin")
    return int(made.id), code


def ensure_position(conn: Connection, key: PositionKey) -> int:
    """The id of the position with this key, created empty if it is new."""
    conn.execute(upsert(conn, positions).on_conflict_do_nothing(), key._asdict())
    return int(conn.execute(select(positions.c.id).where(*key.where())).scalar_one())


def position_places(conn: Connection, ids: set[int]) -> dict[int, PositionPlace]:
    """Positions by id, with their SKU, location and bin codes."""
    if not ids:
        return {}
    rows = conn.execute(
        select(
            positions.c.id,
            positions.c.sku_id,
            skus.c.code.label("sku"),
            positions.c.location_id,
            locations.c.code.label("location"),
            positions.c.bin_id,
            bins.c.code.label("bin"),
            positions.c.lot_code,
        )
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .where(among(positions.c.id, ids))
    )
    return {
        r.id: PositionPlace(
            int(r.id),
            int(r.sku_id),
            r.sku,
            int(r.location_id),
            r.location,
            int(r.bin_id),
            r.bin,
            r.lot_code,
        )
        for r in rows
    }


def position_place(conn: Connection, position_id: int) -> PositionPlace:
    """One position with its codes."""
    found = position_places(conn, {position_id}).get(position_id)
    if found is None:
        raise NotFound(f"no position {position_id}", field="position")
    return found


@dataclass(frozen=True, slots=True)
class Carry:
    """Move ``qty`` units held by one allocation, and the allocation with them, to a bin."""

    allocation_id: int
    qty: int
    to_bin_id: int
    reason: str
    actor: str
    reference: str | None = None
    note: str | None = None


def carry(conn: Connection, cmd: Carry, *, now: datetime) -> int:
    """Move promised units with their promise; the id of the allocation at the new position.

    Both positions are locked in lock order first, so this cannot deadlock with
    a reservation or another carry.
    """
    held = conn.execute(
        select(
            allocations.c.reservation_id, allocations.c.line_no, allocations.c.position_id
        ).where(allocations.c.id == cmd.allocation_id)
    ).one()
    source = position_place(conn, int(held.position_id))
    target_key = PositionKey(source.sku_id, source.location_id, cmd.to_bin_id, source.lot)
    target_id = ensure_position(conn, target_key)
    lock_positions(conn, {source.id, target_id})
    release_at(conn, cmd.allocation_id, cmd.qty, into=allocations.c.moved_qty, now=now)
    target_bin = conn.execute(select(bins.c.code).where(bins.c.id == cmd.to_bin_id)).scalar_one()
    post_moves(
        conn,
        [
            PostMove(
                sku=source.sku,
                qty=cmd.qty,
                reason=cmd.reason,
                source=source.place(),
                target=source.place(target_bin),
                actor=cmd.actor,
                reference=cmd.reference,
                note=cmd.note,
            )
        ],
        now=now,
    )
    new_id = conn.execute(
        allocations.insert()
        .values(
            reservation_id=held.reservation_id,
            line_no=held.line_no,
            position_id=target_id,
            qty=cmd.qty,
        )
        .returning(allocations.c.id)
    ).scalar_one()
    conn.execute(
        update(positions)
        .where(positions.c.id == target_id)
        .values(allocated=positions.c.allocated + cmd.qty)
    )
    touched(conn, [target_id], now=now)
    return int(new_id)


def release_at(
    conn: Connection, allocation_id: int, qty: int, *, now: datetime,
    into: Column[int] | None = None,
) -> None:  # fmt: skip
    """Take ``qty`` units off one allocation and its position's allocated count.

    ``into`` says where they go: released (the default), moved or consumed. One
    conditional UPDATE: if the allocation no longer holds that many units (a
    cancellation got there first) nothing changes and ``Conflict`` is raised.
    """
    target = allocations.c.released_qty if into is None else into
    done = conn.execute(
        update(allocations)
        .where(allocations.c.id == allocation_id, allocation_open_qty >= qty)
        .values({target: target + qty})
        .returning(allocations.c.position_id)
    ).first()
    if done is None:
        raise Conflict(
            f"allocation {allocation_id} no longer holds {qty} units", field="allocation"
        )
    conn.execute(
        update(positions)
        .where(positions.c.id == done.position_id)
        .values(allocated=positions.c.allocated - qty)
    )
    touched(conn, [int(done.position_id)], now=now)


@dataclass(frozen=True, slots=True)
class Staged:
    """Picked units of one allocation, waiting in a staging bin."""

    allocation_id: int
    position_id: int
    location_id: int
    line_no: int
    sku_id: int
    sku: str
    held: int


def staged(conn: Connection, order_id: str) -> list[Staged]:
    """The order's picked units waiting in staging bins, per allocation."""
    rows = conn.execute(
        select(
            allocations.c.id, allocations.c.position_id, positions.c.location_id,
            allocations.c.line_no, positions.c.sku_id, skus.c.code, allocation_open_qty,
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .where(
            orders.c.id == order_id, bins.c.role == BinRole.STAGING.value,
            allocation_open_qty > 0,
        )
        .order_by(allocations.c.line_no, allocations.c.id)
    )  # fmt: skip
    return [
        Staged(
            int(r.id), int(r.position_id), int(r.location_id), int(r.line_no), int(r.sku_id),
            r.code, int(r[6]),
        )
        for r in rows
    ]  # fmt: skip
