"""Posting stock moves: receipts, put-aways, adjustments, scrap, transfers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters import lookup
from stockflow.adapters.database import Database
from stockflow.adapters.locks import lock_positions
from stockflow.adapters.tables import lots, positions, stock_moves
from stockflow.domain.commands import Place, PostMove
from stockflow.domain.errors import Conflict, InsufficientStock, InvalidInput
from stockflow.domain.moves import Direction, posting_rule
from stockflow.domain.quantities import positive_quantity


@dataclass(frozen=True, slots=True)
class MoveRecord:
    """One posted ledger row, as the caller sees it."""

    id: int
    sku: str
    qty: int
    reason: str
    source: Place | None
    target: Place | None
    actor: str
    reference: str | None
    note: str | None
    created_at: datetime
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class _End:
    place: Place
    position_id: int | None
    location: lookup.LocationRef


def post_move(db: Database, conn: Connection, cmd: PostMove, *, now: datetime) -> MoveRecord:
    """Post one move inside the caller's transaction; positions change with the ledger row."""
    qty = positive_quantity(cmd.qty, field="qty")
    rule = posting_rule(
        cmd.reason, has_from=cmd.source is not None, has_to=cmd.target is not None, note=cmd.note
    )
    if cmd.idempotency_key:
        earlier = _move_by_key(conn, cmd)
        if earlier is not None:
            return earlier
    sku = lookup.sku_by_code(conn, cmd.sku, active=rule.direction is Direction.IN)
    source = _resolve_end(db, conn, cmd.source, sku, field="from", create=False)
    target = _resolve_end(db, conn, cmd.target, sku, field="to", create=True)
    if target is not None and sku.lot_tracked:
        _record_lot(db, conn, sku, target.place.lot or "", cmd.lot_expires_on)
    locked = lock_positions(
        conn, [e.position_id for e in (source, target) if e is not None and e.position_id]
    )
    if source is not None:
        _take_out(conn, source, locked, sku=sku.code, qty=qty)
    if target is not None and target.position_id is not None:
        conn.execute(
            update(positions)
            .where(positions.c.id == target.position_id)
            .values(on_hand=positions.c.on_hand + qty)
        )
    move_id = conn.execute(
        stock_moves.insert()
        .values(
            sku_id=sku.id,
            qty=qty,
            from_position_id=source.position_id if source else None,
            to_position_id=target.position_id if target else None,
            reason=rule.reason.value,
            actor=cmd.actor,
            reference=cmd.reference,
            note=cmd.note,
            idempotency_key=cmd.idempotency_key,
            created_at=now,
        )
        .returning(stock_moves.c.id)
    ).scalar_one()
    return MoveRecord(
        id=int(move_id),
        sku=sku.code,
        qty=qty,
        reason=rule.reason.value,
        source=source.place if source else None,
        target=target.place if target else None,
        actor=cmd.actor,
        reference=cmd.reference,
        note=cmd.note,
        created_at=now,
    )


def _resolve_end(
    db: Database,
    conn: Connection,
    place: Place | None,
    sku: lookup.SkuRef,
    *,
    field: str,
    create: bool,
) -> _End | None:
    if place is None:
        return None
    location = lookup.location_by_code(conn, place.location, field=f"{field}.location")
    bin_id = lookup.bin_id(conn, location, place.bin, field=f"{field}.bin")
    lot = (place.lot or "").strip()
    if sku.lot_tracked and not lot:
        raise InvalidInput(f"SKU {sku.code} is lot-tracked: say which lot", field=f"{field}.lot")
    if lot and not sku.lot_tracked:
        raise InvalidInput(
            f"SKU {sku.code} is not lot-tracked: leave the lot empty", field=f"{field}.lot"
        )
    key = lookup.PositionKey(sku.id, location.id, bin_id, lot)
    # A location that may go negative can ship from a position it never held.
    position_id = (
        lookup.ensure_position(db, conn, key)
        if create or location.allow_negative
        else lookup.find_position(conn, key)
    )
    return _End(Place(location.code, place.bin or None, lot or None), position_id, location)


def _take_out(
    conn: Connection, source: _End, locked: dict[int, tuple[int, int]], *, sku: str, qty: int
) -> None:
    on_hand, allocated = locked.get(source.position_id or 0, (0, 0))
    free = on_hand - allocated
    if source.position_id is None or (free < qty and not source.location.allow_negative):
        raise InsufficientStock(
            sku=sku,
            requested=qty,
            available=max(free, 0),
            location=source.place.location,
            field="qty",
        )
    conn.execute(
        update(positions)
        .where(positions.c.id == source.position_id)
        .values(on_hand=positions.c.on_hand - qty)
    )


def _record_lot(
    db: Database, conn: Connection, sku: lookup.SkuRef, code: str, expires_on: date | None
) -> None:
    """Remember a lot's expiry the first time it is seen; a different date later is an error."""
    conn.execute(
        db.insert(lots)
        .values(sku_id=sku.id, code=code, expires_on=expires_on)
        .on_conflict_do_nothing()
    )
    if expires_on is None:
        return
    known = conn.execute(
        select(lots.c.expires_on).where(lots.c.sku_id == sku.id, lots.c.code == code)
    ).scalar()
    if known is None:
        conn.execute(
            update(lots)
            .where(lots.c.sku_id == sku.id, lots.c.code == code)
            .values(expires_on=expires_on)
        )
    elif known != expires_on:
        raise Conflict(
            f"lot {code} of SKU {sku.code} expires on {known}, not {expires_on}",
            field="expires_on",
        )


def _move_by_key(conn: Connection, cmd: PostMove) -> MoveRecord | None:
    row = conn.execute(
        select(stock_moves).where(stock_moves.c.idempotency_key == cmd.idempotency_key)
    ).first()
    if row is None:
        return None
    return MoveRecord(
        id=int(row.id),
        sku=cmd.sku,
        qty=int(row.qty),
        reason=row.reason,
        source=cmd.source,
        target=cmd.target,
        actor=row.actor,
        reference=row.reference,
        note=row.note,
        created_at=row.created_at,
        replayed=True,
    )
