"""When a bin holds fewer units than the books say: correct it, tell the orders relying on it.

A short pick and a count below the books end the same way. The position is
corrected with a count-correction move; promises the bin can no longer keep
are taken back (lowest channel priority, then newest order, first); each
order that lost units is re-allocated by the same rules as any backorder, or
waits with a fresh promise date; and an exception tells customer service.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, select

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    channels,
    orders,
)
from stockflow.stock.bins import PositionPlace, position_place, release_at
from stockflow.stock.exceptions import raise_exception
from stockflow.stock.ledger import post_moves
from stockflow.stock.locks import lock_positions
from stockflow.stock.order_events import order_scopes, record_waiting
from stockflow.stock.order_lifecycle import lock_order, note, set_status, settle_status
from stockflow.stock.queries.orders import load_order
from stockflow.stock.rules.commands import PostMove
from stockflow.stock.rules.events import StockTakenBack
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.order_lifecycle import OrderEvent, OrderStatus, next_status

ON_THE_FLOOR = (OrderStatus.RELEASED.value, OrderStatus.PICKING.value)


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction changed: the move, and units taken back from each order."""

    position: PositionPlace
    before: int
    after: int
    taken: dict[str, int]


def orders_holding(conn: Connection, position_id: int) -> list[str]:
    """Orders with units allocated at this position (read without locks, to lock them first)."""
    rows = conn.execute(
        select(orders.c.id)
        .join(allocations, allocations.c.reservation_id == orders.c.reservation_id)
        .where(allocations.c.position_id == position_id, allocation_open_qty > 0)
        .distinct()
    )
    return sorted(r.id for r in rows)


def lock_orders(conn: Connection, order_ids: list[str], held: set[str]) -> None:
    """Lock orders not yet held, in the order backorder fills lock them.

    Fills lock waiting orders by channel priority, then age, then id; every
    path that locks several orders does it the same way in one statement, so
    two of them queue instead of deadlocking.
    """
    wanted = sorted(set(order_ids) - held)
    if not wanted:
        return
    conn.execute(
        select(orders.c.id)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(among(orders.c.id, wanted))
        .order_by(channels.c.priority.desc(), orders.c.created_at, orders.c.id)
        .with_for_update(of=orders)
    ).all()
    held.update(wanted)


def correct_position(
    conn: Connection, position_id: int, counted: int, *, actor: str,
    reference: str, note_text: str, now: datetime, held: set[str],
) -> Correction:  # fmt: skip
    """Make a position's on hand equal ``counted``, taking back promises it cannot keep.

    ``held`` are the orders this transaction has locked; orders holding units
    here are locked (in id order) before the position, like every other path.
    """
    lock_orders(conn, orders_holding(conn, position_id), held)
    place = position_place(conn, position_id)
    on_hand, allocated = lock_positions(conn, {position_id})[position_id]
    lock_orders(conn, orders_holding(conn, position_id), held)  # arrived meanwhile
    taken = _take_back(conn, position_id, allocated - counted, now) if allocated > counted else {}
    if counted != on_hand:
        found_more = counted > on_hand
        move = PostMove(
            sku=place.sku, qty=abs(counted - on_hand), reason=Reason.COUNT_CORRECTION.value,
            source=None if found_more else place.place(),
            target=place.place() if found_more else None,
            actor=actor, reference=reference, note=note_text,
        )  # fmt: skip
        post_moves(conn, [move], now=now)
    return Correction(place, on_hand, counted, taken)


def _take_back(conn: Connection, position_id: int, units: int, now: datetime) -> dict[str, int]:
    """Release ``units`` held at a position: lowest channel priority, then newest order, first."""
    rows = conn.execute(
        select(allocations.c.id, orders.c.id.label("order_id"), allocation_open_qty.label("held"))
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(allocations.c.position_id == position_id, allocation_open_qty > 0)
        .order_by(channels.c.priority, orders.c.created_at.desc(), allocations.c.id.desc())
    ).all()
    taken: dict[str, int] = defaultdict(int)
    for r in rows:
        if units <= 0:
            break
        qty = min(units, int(r.held))
        release_at(conn, int(r.id), qty, now=now)
        taken[r.order_id] += qty
        units -= qty
    return dict(taken)


@dataclass(frozen=True, slots=True)
class Lost:
    """Orders that lost units of one SKU, and whether each was on the floor at the time."""

    sku: str
    on_floor: dict[str, bool] = field(default_factory=dict)


def after_loss(
    conn: Connection, lost: dict[str, int], sku: PositionPlace, *, kind: ExceptionKind, why: str,
    actor: str, reference: str, today: date, now: datetime,
) -> Lost:  # fmt: skip
    """Tell every order that lost units, inside the correcting transaction; who they were.

    An order on the floor steps back to waiting and an exception says what
    happened. A ``StockTakenBack`` event asks for the rest once this transaction
    has committed (stale pick tasks retired, the orders re-allocated by the
    usual rules or promised anew), each reaction in a transaction of its own:
    they lock positions this one may not take without risking a deadlock,
    exactly like any backorder fill after a receipt.
    """
    out = Lost(sku.sku)
    scopes = order_scopes(conn, lost)
    for oid in sorted(lost):
        status = lock_order(conn, oid)
        out.on_floor[oid] = status in ON_THE_FLOOR
        if status in ON_THE_FLOOR:
            set_status(conn, oid, next_status(status, OrderEvent.BACKORDER), now)
        settle_status(conn, oid, now)
        note(conn, oid, f"{lost[oid]} x {sku.sku} taken back: {why}", actor=actor, now=now)
        message = f"{lost[oid]} x {sku.sku} at {sku.location}/{sku.bin}: {why}"
        raise_exception(
            conn, kind, message, now=now, order_id=oid, sku_id=sku.sku_id, reference=reference,
            location_id=sku.location_id,
        )  # fmt: skip
        # Told at the site it lost units at too, though it may hold none there now.
        record_waiting(conn, load_order(conn, oid), scopes[oid].at(sku.location), now=now)
    if out.on_floor:
        taken = StockTakenBack(sku.sku, kind.value, actor, tuple(sorted(out.on_floor.items())))
        record(conn, taken, now=now)
    return out
