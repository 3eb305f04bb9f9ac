"""Putaway: from the dock to a storage bin, with the promises the units already carry.

A backorder fill may allocate units while they still sit on the dock. Putting
them away moves the free units with a plain ledger move and carries the
allocated ones with their allocation (``floor.carry``), so no allocation is
left pointing at a dock that is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, case, func, select

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    bins,
    home_bins,
    positions,
    stock_moves,
)
from stockflow.adapters.upsert import upsert
from stockflow.errors import (
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    StockflowError,
    UnknownBin,
)
from stockflow.receiving.rules.putaway import BinRoom, ConfirmPutaway, PutawaySuggestion, choose_bin
from stockflow.stock import lookup
from stockflow.stock.bins import Carry, carry, ensure_position, work_bin
from stockflow.stock.ids import keyed_id, new_id
from stockflow.stock.ledger import post_moves
from stockflow.stock.locks import lock_positions
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import AllocationsCarried
from stockflow.stock.rules.places import BinRole
from stockflow.stock.rules.quantities import positive_quantity


class BinRef(NamedTuple):
    """A bin as a scan names it."""

    id: int
    code: str
    role: str


def bin_row(
    conn: Connection, place: lookup.LocationRef, code: str, *, field: str, role: BinRole | None
) -> BinRef:
    """Bin ``code`` of a location, which must have ``role`` when one is given."""
    found = conn.execute(
        select(bins.c.id, bins.c.code, bins.c.role).where(
            bins.c.location_id == place.id, bins.c.code == code
        )
    ).first()
    if found is None:
        raise UnknownBin(f"location {place.code} has no bin {code!r}", field=field)
    if role is not None and found.role != role.value:
        raise InvalidInput(
            f"bin {found.code} at {place.code} is a {found.role} bin, not a {role.value} bin",
            field=field,
        )
    return BinRef(int(found.id), found.code, found.role)


def checked_lot(sku: lookup.SkuRef, lot: str | None) -> str:
    """The lot code a position of this SKU has ('' for none), or ``InvalidInput`` on ``lot``."""
    if sku.lot_tracked and not lot:
        raise InvalidInput(f"SKU {sku.code} is lot-tracked: say which lot", field="lot")
    if lot and not sku.lot_tracked:
        raise InvalidInput(f"SKU {sku.code} is not lot-tracked: leave the lot empty", field="lot")
    return lot or ""


def set_home_bin(
    conn: Connection, *, location: str, sku: str, bin_code: str, scope: Scope = EVERYWHERE
) -> None:
    """Make a storage bin the place a SKU is put away at this location (one of ``scope``'s)."""
    place = lookup.location_by_code(conn, location, scope=scope)
    item = lookup.sku_by_code(conn, sku)
    home = bin_row(conn, place, bin_code, field="bin", role=BinRole.STORAGE)
    conn.execute(
        upsert(conn, home_bins)
        .values(sku_id=item.id, location_id=place.id, bin_id=home.id)
        .on_conflict_do_update(
            index_elements=[home_bins.c.sku_id, home_bins.c.location_id],
            set_={"bin_id": home.id},
        )
    )


def suggest_putaway(
    conn: Connection, *, location: str, sku: str, lot: str | None, qty: int,
    scope: Scope = EVERYWHERE,
) -> PutawaySuggestion:  # fmt: skip
    """The storage bin ``qty`` units of a SKU should go to at a location, and why."""
    positive_quantity(qty, field="qty")
    require_location(scope, location, field="location")
    place = lookup.location_by_code(conn, location)
    item = lookup.sku_by_code(conn, sku)
    checked_lot(item, lot)
    return _suggest(conn, place, item, qty=qty)


def _suggest(
    conn: Connection, place: lookup.LocationRef, sku: lookup.SkuRef, *, qty: int
) -> PutawaySuggestion:
    home = conn.execute(
        select(home_bins.c.bin_id).where(
            home_bins.c.sku_id == sku.id, home_bins.c.location_id == place.id
        )
    ).scalar()
    return choose_bin(_rooms(conn, place.id, sku.id), home_bin_id=home, qty=qty)


def _rooms(conn: Connection, location_id: int, sku_id: int) -> list[BinRoom]:
    """The location's storage bins with the units in each and whether the SKU is there."""
    holds = case(((positions.c.sku_id == sku_id) & (positions.c.on_hand > 0), 1), else_=0)
    filled = (
        select(
            positions.c.bin_id,
            func.sum(positions.c.on_hand).label("used"),
            func.max(holds).label("holds"),
        )
        .where(positions.c.location_id == location_id)
        .group_by(positions.c.bin_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            bins.c.id,
            bins.c.code,
            bins.c.zone,
            bins.c.sequence,
            bins.c.capacity,
            func.coalesce(filled.c.used, 0).label("used"),
            func.coalesce(filled.c.holds, 0).label("holds"),
        )
        .outerjoin(filled, filled.c.bin_id == bins.c.id)
        .where(bins.c.location_id == location_id, bins.c.role == BinRole.STORAGE.value)
        .order_by(bins.c.sequence, bins.c.code)
    )
    return [
        BinRoom(
            int(r.id),
            r.code,
            r.zone,
            int(r.sequence),
            None if r.capacity is None else int(r.capacity),
            int(r.used),
            bool(r.holds),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a putaway takes units from and to, as positions."""

    place: lookup.LocationRef
    sku: lookup.SkuRef
    lot: str
    source: BinRef
    target: BinRef
    source_id: int | None  # None: the SKU (and lot) never was in the source bin
    target_id: int

    def end(self, bin_ref: BinRef) -> Place:
        """One end of the move."""
        return Place(self.place.code, bin_ref.code, self.lot or None)


def confirm_putaway(
    conn: Connection, cmd: ConfirmPutaway, *, now: datetime, scope: Scope = EVERYWHERE
) -> tuple[str, bool]:
    """Move units (checked) into the scanned storage bin; the putaway's reference and whether
    it is a replay. A scan that differs from the suggestion is allowed and noted on the move.
    A location outside ``scope`` is refused by name.
    """
    route = _route(conn, cmd, scope)
    # Locked before the replay check: a retry of the same key waits here for the first.
    ids = {route.target_id} | ({route.source_id} if route.source_id else set())
    locked = lock_positions(conn, ids)
    key = cmd.idempotency_key
    reference = keyed_id("PA", key) if key else new_id("PA")
    if key is not None and _replayed(conn, reference, key, route=route, qty=cmd.qty):
        return reference, True
    on_hand, allocated = locked.get(route.source_id or 0, (0, 0))
    if on_hand < cmd.qty:
        raise InsufficientStock(
            sku=route.sku.code,
            requested=cmd.qty,
            available=on_hand,
            location=route.place.code,
            field="qty",
        )
    free = min(max(on_hand - allocated, 0), cmd.qty)
    note = _scan_note(conn, route, cmd.qty)
    if free:
        move = PostMove(
            route.sku.code,
            free,
            "putaway",
            source=route.end(route.source),
            target=route.end(route.target),
            actor=cmd.actor,
            reference=reference,
            note=note,
        )
        post_moves(conn, [move], now=now)
    if cmd.qty > free:
        _carry_allocated(
            conn, route, qty=cmd.qty - free, actor=cmd.actor, reference=reference,
            note=note, now=now,
        )  # fmt: skip
    return reference, False


def _route(conn: Connection, cmd: ConfirmPutaway, scope: Scope) -> _Route:
    """The checked ends of a putaway; the target position is created if it is new."""
    require_location(scope, cmd.location, field="location")
    place = lookup.location_by_code(conn, cmd.location)
    sku = lookup.sku_by_code(conn, cmd.sku)
    lot = checked_lot(sku, cmd.lot)
    if cmd.from_bin is not None:
        source = bin_row(conn, place, cmd.from_bin, field="from_bin", role=None)
    else:
        dock_id, dock = work_bin(conn, place.id, BinRole.RECEIVING)
        source = BinRef(dock_id, dock, BinRole.RECEIVING.value)
    target = bin_row(conn, place, cmd.to_bin, field="to_bin", role=BinRole.STORAGE)
    if target.id == source.id:
        raise InvalidInput(f"the units are in bin {target.code} already", field="to_bin")
    source_id = conn.execute(
        select(positions.c.id).where(*lookup.PositionKey(sku.id, place.id, source.id, lot).where())
    ).scalar()
    target_id = ensure_position(conn, lookup.PositionKey(sku.id, place.id, target.id, lot))
    return _Route(place, sku, lot, source, target, source_id, target_id)


def _scan_note(conn: Connection, route: _Route, qty: int) -> str | None:
    """None when the scan matches the suggestion; else what was suggested and why."""
    scanned = route.target.code
    try:
        suggestion = _suggest(conn, route.place, route.sku, qty=qty)
    except StockflowError as exc:
        return f"scanned {scanned}; there was no suggestion: {exc.detail}"
    if suggestion.bin_id == route.target.id:
        return None
    return f"scanned {scanned}; suggested {suggestion.bin} ({suggestion.reason})"


def _carry_allocated(
    conn: Connection,
    route: _Route,
    *,
    qty: int,
    actor: str,
    reference: str,
    note: str | None,
    now: datetime,
) -> None:
    """Carry ``qty`` allocated units and their allocations, oldest allocation first."""
    held = conn.execute(
        select(allocations.c.id, allocation_open_qty.label("open"))
        .where(allocations.c.position_id == route.source_id, allocation_open_qty > 0)
        .order_by(allocations.c.id)
    ).all()
    left = qty
    carried = []
    for row in held:
        take = min(left, int(row.open))
        step = Carry(row.id, take, route.target.id, "putaway", actor, reference, note)
        carry(conn, step, now=now)
        carried.append(int(row.id))
        left -= take
        if left == 0:
            record(conn, AllocationsCarried(tuple(carried), reference), now=now)
            return
    # positions.allocated is the sum of open allocations (I3), so this cannot happen.
    raise AssertionError(f"position {route.source_id} holds fewer allocated units than it says")


def _replayed(conn: Connection, reference: str, key: str, *, route: _Route, qty: int) -> bool:
    """Whether this key's putaway was done; ``IdempotencyKeyReused`` if it was another one."""
    done = conn.execute(
        select(stock_moves.c.sku_id, stock_moves.c.qty, stock_moves.c.to_position_id).where(
            stock_moves.c.reference == reference, stock_moves.c.reason == "putaway"
        )
    ).all()
    if not done:
        return False
    wanted = {(route.sku.id, route.target_id)}
    same = {(int(r.sku_id), int(r.to_position_id)) for r in done} == wanted
    if not same or sum(int(r.qty) for r in done) != qty:
        raise IdempotencyKeyReused(key)
    return True
