"""Reservations as callers see them: lines with what is open, released and consumed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import allocations, bins, locations, positions, reservations, skus
from stockflow.errors import UnknownReservation
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.visibility import reservation_condition


@dataclass(frozen=True, slots=True)
class AllocationView:
    """Units of one line held at one position."""

    line_no: int
    sku: str
    location: str
    bin: str
    lot: str | None
    qty: int
    released: int = 0
    consumed: int = 0
    moved: int = 0  # carried with the stock to another position (a pick, a put-away)

    @property
    def open(self) -> int:
        """Units still held here."""
        return self.qty - self.released - self.consumed - self.moved


@dataclass(frozen=True, slots=True)
class ReservationView:
    """A reservation and where its units are held."""

    id: str
    owner_ref: str | None
    status: str
    created_at: datetime
    closed_at: datetime | None
    allocations: tuple[AllocationView, ...]
    replayed: bool = False

    @property
    def open_qty(self) -> int:
        """Units still held over all lines."""
        return sum(a.open for a in self.allocations)

    def seen_from(self, scope: Scope) -> ReservationView:
        """This reservation as a caller limited to sites sees it: its allocations there only."""
        if scope.locations is None:
            return self
        mine = tuple(a for a in self.allocations if scope.sees_location(a.location))
        return replace(self, allocations=mine)


def load_reservations(
    conn: Connection, ids: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, ReservationView]:
    """The reservations with these ids that the scope sees, by id (others are left out).

    A caller limited to sites sees only the allocations at its sites.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(reservations).where(among(reservations.c.id, wanted))
    seen = reservation_condition(scope)
    if seen is not None:
        heads = conn.execute(query.where(seen)).all()
        wanted = [h.id for h in heads]
        if not wanted:
            return {}
    else:
        heads = conn.execute(query).all()
    rows = conn.execute(
        select(
            allocations.c.reservation_id,
            allocations.c.line_no,
            skus.c.code.label("sku"),
            locations.c.code.label("location"),
            bins.c.code.label("bin"),
            positions.c.lot_code,
            allocations.c.qty,
            allocations.c.released_qty,
            allocations.c.consumed_qty,
            allocations.c.moved_qty,
        )
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .where(among(allocations.c.reservation_id, wanted))
        .order_by(allocations.c.reservation_id, allocations.c.line_no, allocations.c.id)
    ).all()
    lines: dict[str, list[AllocationView]] = {h.id: [] for h in heads}
    for r in rows:
        lines[r.reservation_id].append(
            AllocationView(
                line_no=r.line_no,
                sku=r.sku,
                location=r.location,
                bin=r.bin,
                lot=r.lot_code or None,
                qty=int(r.qty),
                released=int(r.released_qty),
                consumed=int(r.consumed_qty),
                moved=int(r.moved_qty),
            )
        )
    views = {
        h.id: ReservationView(
            id=h.id,
            owner_ref=h.owner_ref,
            status=h.status,
            created_at=h.created_at,
            closed_at=h.closed_at,
            allocations=tuple(lines[h.id]),
        )
        for h in heads
    }
    if scope.locations is None:
        return views
    return {k: v.seen_from(scope) for k, v in views.items()}


def load_reservation(
    conn: Connection, reservation_id: str, *, scope: Scope = EVERYWHERE
) -> ReservationView:
    """One reservation the scope sees, or ``UnknownReservation``."""
    found = load_reservations(conn, [reservation_id], scope=scope).get(reservation_id)
    if found is None:
        raise UnknownReservation(f"no reservation {reservation_id!r}", field="reservation_id")
    return found
