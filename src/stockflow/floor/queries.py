"""Read side of the floor: waves with their pick lists, shipments, and the documents they print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, func, or_, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import (
    bins,
    customers,
    locations,
    order_lines,
    orders,
    packages,
    pick_tasks,
    positions,
    shipment_items,
    shipments,
    skus,
    tracking_events,
    waves,
)
from stockflow.errors import NotFound
from stockflow.floor.documents.model import (
    Address,
    LabelDoc,
    PackingSlipDoc,
    PickLineDoc,
    PickListDoc,
    SlipLineDoc,
)
from stockflow.floor.rules import TaskStatus
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.scoping import seen


class UnknownDocument(NotFound):
    """No wave or shipment has that id."""

    title = "Not found"


@dataclass(frozen=True, slots=True)
class TaskView:
    """One line of a pick list."""

    id: int
    sequence: int
    bin: str
    sku: str
    sku_name: str
    lot: str | None
    qty: int
    picked: int
    short: int
    tote: str
    order_id: str
    status: str
    order_ref: str = ""  # what a picker reads: the channel's order number, else a short id


@dataclass(frozen=True, slots=True)
class WaveView:
    """A wave and its tasks in walking order."""

    id: str
    location: str
    status: str
    created_at: datetime
    tasks: tuple[TaskView, ...]


def load_wave(conn: Connection, wave_id: str, *, scope: Scope = EVERYWHERE) -> WaveView:
    """A wave with every task, sorted by bin sequence (the walking order), then SKU."""
    head = conn.execute(
        select(waves, locations.c.code.label("location"))
        .join(locations, locations.c.id == waves.c.location_id)
        .where(waves.c.id == wave_id, *seen(scope, location=waves.c.location_id))
    ).first()
    if head is None:
        raise UnknownDocument(f"no wave {wave_id!r}", field="wave")
    rows = conn.execute(
        select(
            pick_tasks.c.id, bins.c.sequence, bins.c.code.label("bin"), skus.c.code.label("sku"),
            skus.c.name, positions.c.lot_code, pick_tasks.c.qty, pick_tasks.c.picked_qty,
            pick_tasks.c.short_qty, pick_tasks.c.tote, pick_tasks.c.order_id, pick_tasks.c.status,
            orders.c.external_id,
        )
        .join(orders, orders.c.id == pick_tasks.c.order_id)
        .join(positions, positions.c.id == pick_tasks.c.position_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .join(skus, skus.c.id == pick_tasks.c.sku_id)
        .where(pick_tasks.c.wave_id == wave_id)
        .order_by(bins.c.sequence, bins.c.code, skus.c.code, pick_tasks.c.id)
    )  # fmt: skip
    tasks = tuple(
        TaskView(
            int(r.id), int(r.sequence), r.bin, r.sku, r.name, r.lot_code or None, int(r.qty),
            int(r.picked_qty), int(r.short_qty), r.tote, r.order_id, r.status,
            r.external_id or r.order_id[:12],
        )
        for r in rows
    )  # fmt: skip
    return WaveView(head.id, head.location, head.status, head.created_at, tasks)


@dataclass(frozen=True, slots=True)
class WaveSummary:
    """A wave in a list: where, how far along."""

    id: str
    location: str
    status: str
    created_at: datetime
    orders: int
    open_tasks: int
    tasks: int


WAVES = Keyset("waves", Key(waves.c.created_at, descending=True), Key(waves.c.id, descending=True))


def wave_page(
    conn: Connection, *, location: str | None = None, status: str | None = None,
    after: str | None = None, limit: int, scope: Scope = EVERYWHERE,
) -> Page[WaveSummary]:  # fmt: skip
    """Waves, newest first, optionally of one location and status; only those ``scope`` sees."""
    query = (
        select(waves.c.id, locations.c.code.label("location"), waves.c.status, waves.c.created_at)
        .join(locations, locations.c.id == waves.c.location_id)
        .where(*seen(scope, location=waves.c.location_id))
    )
    if location is not None:
        query = query.where(
            waves.c.location_id
            == select(locations.c.id).where(locations.c.code == location).scalar_subquery()
        )
    if status is not None:
        query = query.where(waves.c.status == status)
    page = WAVES.page(conn, query, after=after, limit=limit)
    open_task = case((pick_tasks.c.status == TaskStatus.OPEN.value, 1), else_=0)
    counts = {
        r.wave_id: r
        for r in conn.execute(
            select(
                pick_tasks.c.wave_id,
                func.count(func.distinct(pick_tasks.c.order_id)).label("orders"),
                func.sum(open_task).label("open_tasks"),
                func.count(pick_tasks.c.id).label("tasks"),
            )
            .where(pick_tasks.c.wave_id.in_([r.id for r in page]))
            .group_by(pick_tasks.c.wave_id)
        )
    } if page.items else {}  # fmt: skip

    def summary(r: Row[Any]) -> WaveSummary:
        c = counts.get(r.id)
        if c is None:
            return WaveSummary(r.id, r.location, r.status, r.created_at, 0, 0, 0)
        found = int(c.orders), int(c.open_tasks or 0), int(c.tasks)
        return WaveSummary(r.id, r.location, r.status, r.created_at, *found)

    return page.map(summary)


def pick_list_doc(wave: WaveView) -> PickListDoc:
    """The printable pick list: open tasks only, in walking order."""
    lines = tuple(
        PickLineDoc(n, t.bin, t.sku, t.sku_name, t.lot, t.qty - t.picked - t.short, t.order_ref,
                    t.tote)
        for n, t in enumerate((t for t in wave.tasks if t.status == TaskStatus.OPEN), start=1)
    )  # fmt: skip
    return PickListDoc(wave.id, wave.location, wave.created_at, lines)


@dataclass(frozen=True, slots=True)
class ShipmentView:
    """A shipment: what is in it, its boxes, and where it is."""

    id: str
    order_id: str
    location: str
    status: str
    carrier: str | None
    service: str | None
    tracking_no: str | None
    amount: Decimal | None
    items: tuple[tuple[int, str, int], ...]  # (order line, SKU, units)
    packages: tuple[tuple[int, int, int, int], ...]  # (grams, length, width, height mm)
    events: tuple[tuple[str, datetime, str | None], ...]
    created_at: datetime
    shipped_at: datetime | None


def load_shipment(conn: Connection, key: str, *, scope: Scope = EVERYWHERE) -> ShipmentView:
    """A shipment by id or tracking number."""
    row = conn.execute(
        select(shipments, locations.c.code.label("location"))
        .join(locations, locations.c.id == shipments.c.location_id)
        .where(
            or_(shipments.c.id == key, shipments.c.tracking_no == key),
            *shipment_seen(scope),
        )
    ).first()
    if row is None:
        raise UnknownDocument(f"no shipment or tracking number {key!r}", field="shipment")
    items = conn.execute(
        select(shipment_items.c.order_line_no, skus.c.code, shipment_items.c.qty)
        .join(skus, skus.c.id == shipment_items.c.sku_id)
        .where(shipment_items.c.shipment_id == row.id)
        .order_by(shipment_items.c.order_line_no, skus.c.code)
    )
    boxes = conn.execute(
        select(packages.c.weight_g, packages.c.length_mm, packages.c.width_mm, packages.c.height_mm)
        .where(packages.c.shipment_id == row.id)
        .order_by(packages.c.id)
    )
    events = conn.execute(
        select(tracking_events.c.status, tracking_events.c.at, tracking_events.c.note)
        .where(tracking_events.c.shipment_id == row.id)
        .order_by(tracking_events.c.at, tracking_events.c.id)
    )
    return ShipmentView(
        row.id, row.order_id, row.location, row.status, row.carrier, row.service, row.tracking_no,
        row.amount, tuple((int(a), b, int(c)) for a, b, c in items),
        tuple((int(a), int(b), int(c), int(d)) for a, b, c, d in boxes),
        tuple((a, b, c) for a, b, c in events), row.created_at, row.shipped_at,
    )  # fmt: skip


def shipment_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """Shipments ``scope`` sees: from its locations, of orders of its channels."""
    return seen(scope, location=shipments.c.location_id, order=shipments.c.order_id)


def _ship_from(conn: Connection, code: str) -> Address:
    site = conn.execute(
        select(locations.c.name, locations.c.address).where(locations.c.code == code)
    ).one()
    lines = tuple(x.strip() for x in (site.address or "").splitlines() if x.strip())
    return Address(site.name, lines)


def _order_head(conn: Connection, order_id: str) -> tuple[str | None, str | None]:
    row = conn.execute(
        select(orders.c.ship_to, customers.c.name)
        .select_from(orders.outerjoin(customers, customers.c.id == orders.c.customer_id))
        .where(orders.c.id == order_id)
    ).one()
    return row.ship_to, row.name


def packing_slip_doc(conn: Connection, shipment: ShipmentView) -> PackingSlipDoc:
    """The packing slip: each order line, ordered against what is in this shipment."""
    ship_to, customer = _order_head(conn, shipment.order_id)
    in_box: dict[int, int] = {}
    for line_no, _, qty in shipment.items:
        in_box[line_no] = in_box.get(line_no, 0) + qty
    rows = conn.execute(
        select(order_lines.c.line_no, skus.c.code, skus.c.name, order_lines.c.qty)
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .where(order_lines.c.order_id == shipment.order_id)
        .order_by(order_lines.c.line_no)
    )
    lines = tuple(
        SlipLineDoc(r.code, r.name, int(r.qty), in_box.get(int(r.line_no), 0)) for r in rows
    )
    return PackingSlipDoc(
        shipment.order_id, shipment.id, _ship_from(conn, shipment.location), ship_to, customer,
        lines, shipment.shipped_at or shipment.created_at,
    )  # fmt: skip


def label_doc(conn: Connection, shipment: ShipmentView, package_no: int) -> LabelDoc:
    """The shipping label of one package of a booked shipment."""
    if shipment.tracking_no is None or shipment.carrier is None:
        raise UnknownDocument(f"shipment {shipment.id} is not booked yet", field="shipment")
    if not 1 <= package_no <= len(shipment.packages):
        raise UnknownDocument(
            f"shipment {shipment.id} has {len(shipment.packages)} packages", field="package"
        )
    ship_to, customer = _order_head(conn, shipment.order_id)
    to = ", ".join(x for x in (customer, ship_to) if x) or "(no address)"
    return LabelDoc(
        shipment.id, shipment.tracking_no, shipment.carrier, shipment.service or "standard",
        _ship_from(conn, shipment.location), to, shipment.packages[package_no - 1][0],
        package_no, len(shipment.packages), shipment.order_id,
    )  # fmt: skip
