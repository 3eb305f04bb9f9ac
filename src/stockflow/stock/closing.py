"""Releasing and consuming reservations: stock goes back to free, or out of the door."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, bindparam, select, true, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    positions,
    reservations,
    skus,
    stock_moves,
)
from stockflow.errors import InvalidInput, ReservationClosed, UnknownReservation
from stockflow.stock.changes import touched
from stockflow.stock.locks import lock_positions
from stockflow.stock.queries.reservations import ReservationView, load_reservation
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import CloseLines
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.quantities import positive_quantity
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus, check_open
from stockflow.stock.visibility import reservation_condition, sites_condition


class Closing(StrEnum):
    """What happens to the units taken off a reservation."""

    RELEASE = "release"  # back to free stock
    CONSUME = "consume"  # shipped: on hand goes down with allocated


@dataclass(frozen=True, slots=True)
class _Open:
    allocation_id: int
    position_id: int
    sku_id: int
    sku: str
    open: int


def release_reservation(
    conn: Connection, cmd: CloseLines, *, now: datetime, scope: Scope = EVERYWHERE
) -> ReservationView:
    """Give reserved units back to free stock; waiting orders get their chance after commit."""
    view = close_lines(conn, cmd, Closing.RELEASE, now=now, scope=scope)
    freed = {a.sku for a in view.allocations if a.released}
    if freed:
        record(conn, StockFreed.of(freed, "release"), now=now)
    return view


def close_lines(
    conn: Connection, cmd: CloseLines, how: Closing, *, now: datetime, scope: Scope = EVERYWHERE
) -> ReservationView:
    """Release or consume units of a reservation inside the caller's transaction.

    A reservation the scope does not see is unknown; a caller limited to
    sites closes only what is held at its sites.
    """
    _lock_reservation(conn, cmd.reservation_id, scope)
    open_rows = _open_allocations(conn, cmd.reservation_id, cmd.line_no, scope)
    if not open_rows:
        raise ReservationClosed(
            f"reservation {cmd.reservation_id} has nothing open", field="reservation_id"
        )
    taking = _split(open_rows, cmd.qty_by_sku)
    lock_positions(conn, {row.position_id for row, _ in taking})
    column = allocations.c.released_qty if how is Closing.RELEASE else allocations.c.consumed_qty
    conn.execute(
        update(allocations)
        .where(allocations.c.id == bindparam("aid"))
        .values({column: column + bindparam("q")}),
        [{"aid": row.allocation_id, "q": q} for row, q in taking],
    )
    _take_off(conn, taking, how, now=now)
    if how is Closing.CONSUME:
        conn.execute(
            stock_moves.insert(),
            [
                {
                    "sku_id": row.sku_id,
                    "qty": q,
                    "from_position_id": row.position_id,
                    "to_position_id": None,
                    "reason": Reason.SHIP.value,
                    "actor": cmd.actor,
                    "reference": cmd.reference or cmd.reservation_id,
                    "note": None,
                    "idempotency_key": None,
                    "created_at": now,
                }
                for row, q in taking
            ],
        )
    everything = sum(row.open for row in open_rows) == sum(q for _, q in taking)
    if everything and (
        (cmd.line_no is None and scope.locations is None)
        or not _open_allocations(conn, cmd.reservation_id, None, EVERYWHERE)
    ):
        conn.execute(
            update(reservations)
            .where(reservations.c.id == cmd.reservation_id)
            .values(status=ReservationStatus.CLOSED.value, closed_at=now)
        )
    # Read back unscoped: what was just closed may leave nothing the scope still sees.
    return load_reservation(conn, cmd.reservation_id).seen_from(scope)


def _take_off(
    conn: Connection, taking: list[tuple[_Open, int]], how: Closing, *, now: datetime
) -> None:
    """Lower the positions' allocated (and, for a shipment, on hand) by what was taken."""
    per_position: dict[int, int] = defaultdict(int)
    for row, q in taking:
        per_position[row.position_id] += q
    values = {"allocated": positions.c.allocated - bindparam("q")}
    if how is Closing.CONSUME:
        values["on_hand"] = positions.c.on_hand - bindparam("q")
    conn.execute(
        update(positions).where(positions.c.id == bindparam("pid")).values(values),
        [{"pid": pid, "q": q} for pid, q in sorted(per_position.items())],
    )
    touched(conn, per_position, now=now)


def _lock_reservation(conn: Connection, reservation_id: str, scope: Scope) -> None:
    """Lock the reservation row first: two closings of one reservation queue here."""
    query = select(reservations.c.status).where(reservations.c.id == reservation_id)
    seen = reservation_condition(scope)
    if seen is not None:
        query = query.where(seen)
    status = conn.execute(query.with_for_update()).scalar()
    if status is None:
        raise UnknownReservation(f"no reservation {reservation_id!r}", field="reservation_id")
    check_open(reservation_id, status)


def _open_allocations(
    conn: Connection, reservation_id: str, line_no: int | None, scope: Scope
) -> list[_Open]:
    open_qty = allocation_open_qty
    query = (
        select(
            allocations.c.id,
            allocations.c.position_id,
            positions.c.sku_id,
            skus.c.code,
            open_qty.label("open"),
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(skus, skus.c.id == positions.c.sku_id)
        .where(
            allocations.c.reservation_id == reservation_id,
            open_qty > 0,
            allocations.c.line_no == line_no if line_no is not None else true(),
        )
        .order_by(allocations.c.line_no, allocations.c.id)
    )
    at_sites = sites_condition(scope, positions.c.location_id)
    rows = conn.execute(query if at_sites is None else query.where(at_sites))
    return [_Open(r.id, r.position_id, r.sku_id, r.code, int(r.open)) for r in rows]


def _split(open_rows: list[_Open], qty_by_sku: dict[str, int]) -> list[tuple[_Open, int]]:
    """Which allocations give up how many units; everything open when no SKU is named."""
    if not qty_by_sku:
        return [(row, row.open) for row in open_rows]
    taking: list[tuple[_Open, int]] = []
    for sku, wanted in sorted(qty_by_sku.items()):
        positive_quantity(wanted, field=f"lines.{sku}")
        rows = [r for r in open_rows if r.sku == sku]
        held = sum(r.open for r in rows)
        if wanted > held:
            raise InvalidInput(
                f"SKU {sku}: {wanted} asked, the reservation holds {held} open",
                field=f"lines.{sku}",
            )
        # Give back the latest allocated units first; FEFO keeps the earliest lots held.
        for row in reversed(rows):
            q = min(row.open, wanted)
            if q:
                taking.append((row, q))
                wanted -= q
    return taking
