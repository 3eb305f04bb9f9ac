"""Packing with scan verification, shipping through a carrier, and tracking to delivery.

Every scan is checked against what was picked for the order: a SKU the order
does not have, or one unit more than was picked, is refused with a message
the packer can act on. Shipping consumes the staged allocations and writes the
ship moves; the carrier adapter books the parcels and gives the tracking number.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from stockflow.adapters.carriers import (
    Booking,
    ManualCarrier,
    ShipmentRequest,
    carrier_for,
    zone_for,
)
from stockflow.adapters.outbox import record
from stockflow.adapters.parcels import Parcel
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    locations,
    orders,
    packages,
    pick_tasks,
    reservations,
    shipment_items,
    shipments,
    skus,
)
from stockflow.errors import Conflict, InvalidInput, NotFound
from stockflow.floor.queries import shipment_seen
from stockflow.floor.rules import TaskStatus
from stockflow.stock.bins import PositionPlace, Staged, position_places, release_at, staged
from stockflow.stock.ledger import post_moves
from stockflow.stock.order_events import order_scope
from stockflow.stock.order_lifecycle import lock_order, note, set_status
from stockflow.stock.queries.orders import load_order, order_statuses
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import PostMove
from stockflow.stock.rules.events import OrderLine, OrderShipped
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.order_lifecycle import (
    OrderEvent,
    OrderStatus,
    ShipmentStatus,
    next_status,
)
from stockflow.stock.rules.places import coords, distance_km
from stockflow.stock.rules.quantities import positive_quantity
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus
from stockflow.stock.scoping import location_ids


class UnknownShipment(NotFound):
    """No shipment has that id or tracking number."""

    title = "Unknown shipment"


class WrongScan(Conflict):
    """A scanned item does not belong in this order's parcel."""

    title = "Wrong item scanned"


def _packing_shipment(conn: Connection, order_id: str, location_id: int, now: datetime) -> str:
    """The order's open parcel set at a location, started on the first scan."""
    found = conn.execute(
        select(shipments.c.id).where(
            shipments.c.order_id == order_id,
            shipments.c.location_id == location_id,
            shipments.c.status == ShipmentStatus.PACKING.value,
        )
    ).scalar()
    if found is not None:
        return str(found)
    shipment_id = f"S-{uuid.uuid4().hex[:10].upper()}"
    conn.execute(
        shipments.insert().values(
            id=shipment_id, serial=uuid.uuid4().int % 10**10, order_id=order_id,
            location_id=location_id, status=ShipmentStatus.PACKING.value, created_at=now,
            updated_at=now,
        )
    )  # fmt: skip
    return shipment_id


def _packed(conn: Connection, shipment_ids: list[str]) -> dict[tuple[int, int], int]:
    """Units packed per (order line, SKU id) in these shipments."""
    rows = conn.execute(
        select(shipment_items.c.order_line_no, shipment_items.c.sku_id, shipment_items.c.qty).where(
            among(shipment_items.c.shipment_id, shipment_ids)
        )
    )
    out: dict[tuple[int, int], int] = defaultdict(int)
    for r in rows:
        out[(int(r.order_line_no), int(r.sku_id))] += int(r.qty)
    return out


def pack_scan(
    conn: Connection, order_id: str, barcode: str, *, qty: int = 1, now: datetime,
    scope: Scope = EVERYWHERE,
) -> str:  # fmt: skip
    """Check a scanned SKU against what was picked for the order and pack it; the shipment id.

    Only units staged at the locations of ``scope`` are packed; an order it
    does not see is refused as an unknown one.
    """
    qty = positive_quantity(qty, field="qty")
    status = lock_order(conn, order_id, scope=scope)
    if status != OrderStatus.PICKING.value:
        raise Conflict(f"order {order_id} is {status}, not being picked", field="order")
    code = barcode.strip()
    sites = location_ids(conn, scope)
    here = [
        s
        for s in staged(conn, order_id)
        if s.sku == code and (sites is None or s.location_id in sites)
    ]
    if not here:
        raise WrongScan(_not_here(conn, order_id, code), field="barcode")
    location_id = here[0].location_id
    shipment_id = _packing_shipment(conn, order_id, location_id, now)
    packed = _packed(conn, [shipment_id])
    room: dict[tuple[int, int], int] = {}
    for s in here:
        if s.location_id == location_id:
            key = (s.line_no, s.sku_id)
            room[key] = room.get(key, 0) + s.held
    free = {k: v - packed.get(k, 0) for k, v in room.items()}
    if sum(free.values()) < qty:
        done = sum(packed.get(k, 0) for k in room)
        raise WrongScan(
            f"order {order_id} has {sum(room.values())} x {code} picked and {done} already"
            f" packed: {qty} more is too many",
            field="barcode",
        )
    for key, left in sorted(free.items()):
        take = min(left, qty)
        if take > 0:
            _add_item(conn, shipment_id, key, take)
            qty -= take
    return shipment_id


def _not_here(conn: Connection, order_id: str, code: str) -> str:
    known = conn.execute(select(skus.c.id).where(skus.c.code == code)).scalar()
    if known is None:
        return f"barcode {code!r} is not a SKU stockflow knows"
    return f"{code} is not picked for order {order_id}: put it aside"


def _add_item(conn: Connection, shipment_id: str, key: tuple[int, int], qty: int) -> None:
    line_no, sku_id = key
    match = (
        shipment_items.c.shipment_id == shipment_id,
        shipment_items.c.order_line_no == line_no,
        shipment_items.c.sku_id == sku_id,
    )
    done = conn.execute(
        update(shipment_items).where(*match).values(qty=shipment_items.c.qty + qty)
    ).rowcount
    if not done:
        conn.execute(
            shipment_items.insert().values(
                shipment_id=shipment_id, order_line_no=line_no, sku_id=sku_id, qty=qty
            )
        )


def add_package(
    conn: Connection, shipment_id: str, parcel: Parcel, *, now: datetime,
    scope: Scope = EVERYWHERE,
) -> int:  # fmt: skip
    """Record a closed box with its weight and size; its id."""
    row = shipment_row(conn, shipment_id, scope=scope)
    lock_order(conn, row.order_id)
    if row.status != ShipmentStatus.PACKING.value:
        raise Conflict(f"shipment {shipment_id} is {row.status}", field="shipment")
    return int(
        conn.execute(
            packages.insert()
            .values(
                shipment_id=shipment_id, weight_g=parcel.weight_g, length_mm=parcel.length_mm,
                width_mm=parcel.width_mm, height_mm=parcel.height_mm, created_at=now,
            )
            .returning(packages.c.id)
        ).scalar_one()
    )  # fmt: skip


def shipment_row(conn: Connection, key: str, *, scope: Scope = EVERYWHERE) -> Row[Any]:
    """A shipment by id or by tracking number; one outside ``scope`` is not found."""
    row = conn.execute(
        select(shipments).where(
            or_(shipments.c.id == key, shipments.c.tracking_no == key), *shipment_seen(scope)
        )
    ).first()
    if row is None:
        raise UnknownShipment(f"no shipment or tracking number {key!r}", field="shipment")
    return row


@dataclass(frozen=True, slots=True)
class Dispatch:
    """How a packed shipment leaves: carrier, service, and for hand bookings the number."""

    carrier: str
    service: str = "standard"
    tracking_no: str | None = None
    amount: Decimal | None = None


def ship(
    conn: Connection, shipment_id: str, how: Dispatch, *, actor: str,
    now: datetime, scope: Scope = EVERYWHERE,
) -> str:  # fmt: skip
    """Book the parcels, consume the staged units and write the ship moves; the tracking no."""
    row = shipment_row(conn, shipment_id, scope=scope)
    lock_order(conn, row.order_id)
    if row.status != ShipmentStatus.PACKING.value:
        raise Conflict(f"shipment {shipment_id} is already {row.status}", field="shipment")
    here = [s for s in staged(conn, row.order_id) if s.location_id == row.location_id]
    _check_all_packed(conn, shipment_id, here)
    booking = _book(conn, row, how)
    places = position_places(conn, {s.position_id for s in here})
    for s in here:
        release_at(conn, s.allocation_id, s.held, into=allocations.c.consumed_qty, now=now)
    moves = [
        PostMove(
            sku=s.sku, qty=s.held, reason=Reason.SHIP.value, source=places[s.position_id].place(),
            actor=actor, reference=f"shipment:{shipment_id}",
        )
        for s in here
    ]  # fmt: skip
    post_moves(conn, moves, now=now)
    conn.execute(
        update(shipments)
        .where(shipments.c.id == shipment_id)
        .values(
            status=ShipmentStatus.SHIPPED.value, carrier=booking.carrier, service=booking.service,
            tracking_no=booking.tracking_no, amount=booking.amount, shipped_at=now, updated_at=now,
        )
    )  # fmt: skip
    units = sum(s.held for s in here)
    note(
        conn, row.order_id, f"shipped {units} units as {booking.tracking_no}", actor=actor, now=now
    )
    _settle_after_ship(conn, row.order_id, now)
    _announce(conn, row, booking, here, places, now=now)
    return booking.tracking_no


def _announce(
    conn: Connection, row: Row[Any], booking: Booking, here: list[Staged],
    places: dict[int, PositionPlace], *, now: datetime,
) -> None:  # fmt: skip
    """``order.shipped`` for this shipment: what left, from where, with whom."""
    units: dict[tuple[int, str], int] = defaultdict(int)
    for s in here:
        units[(s.line_no, s.sku)] += s.held
    told = order_scope(conn, row.order_id)
    shipped = OrderShipped(
        row.order_id, row.id, places[here[0].position_id].location, booking.carrier,
        booking.service, booking.tracking_no,
        tuple(OrderLine(n, sku, q) for (n, sku), q in sorted(units.items())),
        order_statuses(conn, [row.order_id])[row.order_id],
        channel=told.channel, sites=told.sites,
    )  # fmt: skip
    record(conn, shipped, now=now)


def _check_all_packed(conn: Connection, shipment_id: str, here: list[Staged]) -> None:
    packed = _packed(conn, [shipment_id])
    if not packed:
        raise Conflict(f"shipment {shipment_id} has nothing packed", field="shipment")
    boxes = conn.execute(
        select(func.count()).where(packages.c.shipment_id == shipment_id)
    ).scalar_one()
    if not boxes:
        raise Conflict(
            f"shipment {shipment_id} has no package: record weight and size", field="packages"
        )
    held: dict[tuple[int, int], int] = defaultdict(int)
    for s in here:
        held[(s.line_no, s.sku_id)] += s.held
    for (line_no, _), qty in sorted(held.items()):
        done = packed.get((line_no, _), 0)
        if done != qty:
            code = next(s.sku for s in here if (s.line_no, s.sku_id) == (line_no, _))
            raise Conflict(
                f"line {line_no}: {qty} x {code} picked, {done} packed; scan the rest first",
                field="shipment",
            )


def _book(conn: Connection, row: Row[Any], how: Dispatch) -> Booking:
    carrier = carrier_for(how.carrier)
    parcels = tuple(
        Parcel(int(p.weight_g), int(p.length_mm), int(p.width_mm), int(p.height_mm))
        for p in conn.execute(
            select(packages).where(packages.c.shipment_id == row.id).order_by(packages.c.id)
        )
    )
    request = ShipmentRequest(how.service, parcels, zone_for(_distance(conn, row)))
    if isinstance(carrier, ManualCarrier):
        return carrier.book(
            request, serial=int(row.serial), tracking_no=how.tracking_no, amount=how.amount
        )
    if how.tracking_no is not None or how.amount is not None:
        raise InvalidInput(
            f"carrier {how.carrier} gives its own tracking number and price", field="tracking_no"
        )
    return carrier.book(request, serial=int(row.serial))


def _distance(conn: Connection, row: Row[Any]) -> float | None:
    site = conn.execute(
        select(locations.c.latitude, locations.c.longitude).where(locations.c.id == row.location_id)
    ).one()
    dest = conn.execute(
        select(orders.c.ship_to_latitude, orders.c.ship_to_longitude).where(
            orders.c.id == row.order_id
        )
    ).one()
    return distance_km(coords(site[0], site[1]), coords(dest[0], dest[1]))


def _settle_after_ship(conn: Connection, order_id: str, now: datetime) -> None:
    """Mark the order shipped once nothing of it is left to pick, pack or wait for."""
    view_status = lock_order(conn, order_id)
    reservation_id = conn.execute(
        select(orders.c.reservation_id).where(orders.c.id == order_id)
    ).scalar_one()
    still_held = conn.execute(
        select(func.coalesce(func.sum(allocation_open_qty), 0)).where(
            allocations.c.reservation_id == reservation_id
        )
    ).scalar_one()
    open_tasks = conn.execute(
        select(func.count()).where(
            pick_tasks.c.order_id == order_id, pick_tasks.c.status == TaskStatus.OPEN.value
        )
    ).scalar_one()
    if still_held or open_tasks or _waiting_units(conn, order_id):
        return
    status = next_status(view_status, OrderEvent.PACK)
    set_status(conn, order_id, next_status(status, OrderEvent.SHIP), now)
    conn.execute(
        update(reservations)
        .where(reservations.c.id == reservation_id)
        .values(status=ReservationStatus.CLOSED.value, closed_at=now)
    )


def _waiting_units(conn: Connection, order_id: str) -> int:
    return sum(ln.waiting for ln in load_order(conn, order_id).lines)
