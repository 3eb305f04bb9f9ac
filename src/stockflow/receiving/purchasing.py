"""Suppliers, purchase orders and ASNs: placing, closing and cancelling what is on order.

Each PO line is one ``incoming_supply`` row (document_id = the PO, line_no),
so an open purchase order feeds promise dates exactly like any other supply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from stockflow.adapters import bulk
from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import asn_lines, asns, incoming_supply, purchase_orders, suppliers
from stockflow.errors import (
    AlreadyExists,
    IdempotencyKeyReused,
    InactiveSku,
    InvalidInput,
    Problems,
    StockflowError,
    UnknownLocation,
    UnknownSku,
)
from stockflow.receiving.queries import po_seen
from stockflow.receiving.rules.purchasing import (
    IllegalPOTransition,
    NewAsn,
    NewPurchaseOrder,
    NewSupplier,
    POEvent,
    POStatus,
    UnknownPurchaseOrder,
    UnknownSupplier,
    expected_arrival,
    next_po_status,
)
from stockflow.stock import lookup
from stockflow.stock.ids import keyed_id, new_id
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.events import SupplyChanged
from stockflow.stock.rules.places import SELLABLE_KINDS
from stockflow.stock.scoping import require_supplier


@dataclass(frozen=True, slots=True)
class Placed:
    """A purchase order written (or found again under its idempotency key)."""

    id: str
    replayed: bool
    sku_ids: frozenset[int]


_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")


@contextmanager
def about_lines(rows: Sequence[int] | None) -> Iterator[None]:
    """An error about ``lines[i].field`` of a document read from a file names row and column.

    ``rows`` are the file rows the document's lines came from; an error about
    the document as a whole names its first row.
    """
    try:
        yield
    except StockflowError as exc:
        if rows and exc.row is None:
            found = _LINE_FIELD.fullmatch(exc.field or "")
            exc.row = rows[int(found[1])] if found else rows[0]
            exc.field = found[2] if found else exc.field
        raise


def add_supplier(conn: Connection, supplier: NewSupplier, *, now: datetime) -> bool:
    """Add a supplier (checked); False when the same supplier exists already (a retry)."""
    found = conn.execute(select(suppliers).where(suppliers.c.code == supplier.code)).first()
    if found is not None:
        same = (found.name, found.lead_time_days, found.email) == (
            supplier.name,
            supplier.lead_time_days,
            supplier.email,
        )
        if same:
            return False
        raise AlreadyExists(f"supplier {supplier.code} already exists", field="code")
    conn.execute(
        suppliers.insert().values(
            code=supplier.code,
            name=supplier.name,
            lead_time_days=supplier.lead_time_days,
            email=supplier.email,
            created_at=now,
        )
    )
    return True


def supplier_row(conn: Connection, code: str, *, field: str = "supplier") -> Row[Any]:
    """The supplier with ``code``, or ``UnknownSupplier``."""
    found = conn.execute(select(suppliers).where(suppliers.c.code == code)).first()
    if found is None:
        raise UnknownSupplier(f"no supplier with code {code!r}", field=field)
    return found


def place_orders(
    conn: Connection,
    cmds: Sequence[NewPurchaseOrder],
    *,
    today: date,
    now: datetime,
    rows: Sequence[Sequence[int]] | None = None,
    scope: Scope = EVERYWHERE,
    problems: Problems | None = None,
) -> list[Placed]:
    """Write purchase orders (checked), every one or none; a known key replays its order.

    ``rows`` are the file rows each order's lines came from; an error then names its row.
    A supplier or location outside ``scope`` is refused by name. Every code is
    looked up once for the whole batch and the rows are written in one go.
    With ``problems`` every refused order is told there (and left out);
    without, the first refusal is raised.
    """
    refs = _Refs.load(conn, cmds)
    placing = _Placing(now=now)
    placed = []
    for n, cmd in enumerate(cmds):
        try:
            with about_lines(rows[n] if rows else None):
                placed.append(_place(cmd, refs, placing, today=today, scope=scope))
        except StockflowError as exc:
            if problems is None:
                raise
            problems.add(exc)
    bulk.write(
        conn,
        bulk.Insert(purchase_orders, placing.orders),
        bulk.Insert(incoming_supply, placing.lines),
    )
    added = {s for p in placed if not p.replayed for s in p.sku_ids}
    if added:
        record(conn, SupplyChanged.of(lookup.sku_codes(conn, added), "purchase order"), now=now)
    return placed


def line_skus(conn: Connection, codes: Sequence[str]) -> list[lookup.SkuRef]:
    """The SKU of each line, in order; an unknown or inactive one names its line."""
    found = lookup.skus_by_code(conn, set(codes))
    out = []
    for i, code in enumerate(codes):
        sku = found.get(code)
        if sku is None:
            raise UnknownSku(f"no SKU with code {code!r}", field=f"lines[{i}].sku")
        if not sku.active:
            raise InactiveSku(f"SKU {sku.code} is inactive", field=f"lines[{i}].sku")
        out.append(sku)
    return out


def receiving_location(place: lookup.LocationRef) -> lookup.LocationRef:
    """The location, if goods may be received there (a site that holds stock)."""
    if place.kind not in SELLABLE_KINDS:
        raise InvalidInput(
            f"location {place.code} is a {place.kind}: goods are received at a warehouse,"
            " store or DC",
            field="location",
        )
    return place


@dataclass(slots=True)
class _Placing:
    """The rows a batch of purchase orders writes, gathered first."""

    now: datetime
    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Refs:
    """Every supplier, location and SKU a batch of orders names, and the orders its keys found."""

    suppliers: dict[str, Row[Any]]
    places: dict[str, lookup.LocationRef]
    skus: dict[str, lookup.SkuRef]
    earlier: dict[str, tuple[Row[Any], list[tuple[int, int, Any]]]]

    @classmethod
    def load(cls, conn: Connection, cmds: Sequence[NewPurchaseOrder]) -> _Refs:
        wanted = {c.supplier for c in cmds}
        found = conn.execute(select(suppliers).where(among(suppliers.c.code, wanted))).all()
        places = lookup.locations_by_code(conn, {c.location for c in cmds})
        skus = lookup.skus_by_code(conn, {ln.sku for c in cmds for ln in c.lines})
        keys = {c.idempotency_key for c in cmds if c.idempotency_key}
        earlier: dict[str, tuple[Row[Any], list[tuple[int, int, Any]]]] = {}
        if keys:
            pos = conn.execute(
                select(purchase_orders).where(among(purchase_orders.c.idempotency_key, keys))
            ).all()
            lines: dict[str, list[tuple[int, int, Any]]] = {po.id: [] for po in pos}
            for r in conn.execute(
                select(
                    incoming_supply.c.document_id, incoming_supply.c.sku_id,
                    incoming_supply.c.qty, incoming_supply.c.unit_cost,
                )
                .where(among(incoming_supply.c.document_id, lines))
                .order_by(incoming_supply.c.document_id, incoming_supply.c.line_no)
            ):  # fmt: skip
                lines[r.document_id].append((int(r.sku_id), int(r.qty), r.unit_cost))
            earlier = {po.idempotency_key: (po, lines[po.id]) for po in pos}
        return cls({r.code: r for r in found}, places, skus, earlier)

    def supplier(self, code: str) -> Row[Any]:
        found = self.suppliers.get(code)
        if found is None:
            raise UnknownSupplier(f"no supplier with code {code!r}", field="supplier")
        return found

    def location(self, code: str) -> lookup.LocationRef:
        found = self.places.get(code)
        if found is None:
            raise UnknownLocation(f"no location with code {code!r}", field="location")
        return found

    def sku_ids(self, codes: Sequence[str]) -> list[int]:
        out = []
        for i, code in enumerate(codes):
            sku = self.skus.get(code)
            if sku is None:
                raise UnknownSku(f"no SKU with code {code!r}", field=f"lines[{i}].sku")
            if not sku.active:
                raise InactiveSku(f"SKU {sku.code} is inactive", field=f"lines[{i}].sku")
            out.append(sku.id)
        return out


def _place(
    cmd: NewPurchaseOrder, refs: _Refs, placing: _Placing, *, today: date, scope: Scope
) -> Placed:
    require_supplier(scope, cmd.supplier, field="supplier")
    require_location(scope, cmd.location, field="location")
    supplier = refs.supplier(cmd.supplier)
    place = receiving_location(refs.location(cmd.location))
    sku_ids = refs.sku_ids([ln.sku for ln in cmd.lines])
    if cmd.idempotency_key is not None and cmd.idempotency_key in refs.earlier:
        po, stored = refs.earlier[cmd.idempotency_key]
        wanted = [(s, ln.qty, ln.unit_cost) for s, ln in zip(sku_ids, cmd.lines, strict=True)]
        same = (
            (po.supplier_id, po.location_id) == (supplier.id, place.id)
            and stored == wanted
            and cmd.expected_on in (None, po.expected_on)
        )
        if not same:
            raise IdempotencyKeyReused(cmd.idempotency_key)
        return Placed(po.id, True, frozenset(sku_ids))
    po_id = new_id("PO")
    expected_on = cmd.expected_on or expected_arrival(today, int(supplier.lead_time_days))
    now = placing.now
    placing.orders.append(
        {
            "id": po_id, "supplier_id": supplier.id, "location_id": place.id,
            "status": POStatus.OPEN.value, "expected_on": expected_on, "reference": cmd.reference,
            "idempotency_key": cmd.idempotency_key, "created_at": now, "updated_at": now,
        }
    )  # fmt: skip
    # Each line is supply like any other: promise dates and future ATP read it.
    supply = dict(kind="purchase", reference=po_id, document_id=po_id, location_id=place.id,
                  expected_on=expected_on, created_at=now)  # fmt: skip
    placing.lines.extend(
        {**supply, "line_no": n, "sku_id": sku_id, "qty": ln.qty, "unit_cost": ln.unit_cost}
        for n, (ln, sku_id) in enumerate(zip(cmd.lines, sku_ids, strict=True), start=1)
    )
    return Placed(po_id, False, frozenset(sku_ids))


def lock_po(
    conn: Connection, po_id: str, *, field: str = "po_id", scope: Scope = EVERYWHERE
) -> Row[Any]:
    """Lock the purchase order row (receipts and closings of one PO queue here).

    A purchase order outside ``scope`` is not found, like one that does not exist.
    """
    found = conn.execute(
        select(purchase_orders)
        .where(purchase_orders.c.id == po_id, *po_seen(scope))
        .with_for_update()
    ).first()
    if found is None:
        raise UnknownPurchaseOrder(f"no purchase order {po_id!r}", field=field)
    return found


def end_order(
    conn: Connection, po_id: str, event: POEvent, *, now: datetime, scope: Scope = EVERYWHERE
) -> set[int]:
    """Close or cancel a purchase order; the ids of the SKUs whose supply it takes away.

    Ending an order that already ended the same way changes nothing: a retried
    close is not an error.
    """
    po = lock_po(conn, po_id, field="id", scope=scope)
    target = POStatus.CLOSED if event is POEvent.CLOSE else POStatus.CANCELLED
    if po.status == target.value:
        return set()
    status = next_po_status(po.status, event)
    conn.execute(
        update(purchase_orders)
        .where(purchase_orders.c.id == po_id)
        .values(status=status.value, updated_at=now)
    )
    rows = conn.execute(
        select(incoming_supply.c.sku_id).where(incoming_supply.c.document_id == po_id)
    )
    ended = {int(r.sku_id) for r in rows}
    if ended:
        record(conn, SupplyChanged.of(lookup.sku_codes(conn, ended), "purchase order"), now=now)
    return ended


def add_asn(
    conn: Connection, cmd: NewAsn, *, now: datetime, scope: Scope = EVERYWHERE
) -> tuple[str, bool]:
    """Record what a delivery against an open PO will hold; its id and whether it is a replay.

    A purchase order outside ``scope`` is refused as an unknown one.
    """
    po = lock_po(conn, cmd.po_id, scope=scope)
    asn_id = keyed_id("ASN", f"{cmd.po_id}|{cmd.idempotency_key}") if cmd.idempotency_key else None
    if asn_id is not None and _asn_exists(conn, asn_id, cmd):
        return asn_id, True
    skus_by_line = _announced_skus(conn, po, cmd)
    asn_id = asn_id or new_id("ASN")
    conn.execute(
        asns.insert().values(
            id=asn_id,
            po_id=po.id,
            reference=cmd.reference,
            expected_on=cmd.expected_on or po.expected_on,
            created_at=now,
        )
    )
    conn.execute(
        asn_lines.insert(),
        [
            {
                "asn_id": asn_id,
                "line_no": n,
                "po_line_no": line.po_line_no,
                "sku_id": skus_by_line[line.po_line_no],
                "qty": line.qty,
                "lot_code": line.lot or "",
            }
            for n, line in enumerate(cmd.lines, start=1)
        ],
    )
    return asn_id, False


def _announced_skus(conn: Connection, po: Row[Any], cmd: NewAsn) -> dict[int, int]:
    """The SKU id of each PO line; the PO must still expect deliveries and have every line."""
    if po.status not in (POStatus.OPEN.value, POStatus.PARTIALLY_RECEIVED.value):
        state = po.status.replace("_", " ")
        raise IllegalPOTransition(
            f"purchase order {po.id} is {state}: no more deliveries are announced", field="po_id"
        )
    skus_by_line = {
        int(r.line_no): int(r.sku_id)
        for r in conn.execute(
            select(incoming_supply.c.line_no, incoming_supply.c.sku_id).where(
                incoming_supply.c.document_id == po.id
            )
        )
    }
    for i, line in enumerate(cmd.lines):
        if line.po_line_no not in skus_by_line:
            raise InvalidInput(
                f"PO {po.id} has no line {line.po_line_no}", field=f"lines[{i}].po_line_no"
            )
    return skus_by_line


def _asn_exists(conn: Connection, asn_id: str, cmd: NewAsn) -> bool:
    """Whether this key's ASN was written before; ``IdempotencyKeyReused`` if it says otherwise."""
    rows = conn.execute(
        select(asn_lines.c.po_line_no, asn_lines.c.qty, asn_lines.c.lot_code)
        .where(asn_lines.c.asn_id == asn_id)
        .order_by(asn_lines.c.line_no)
    ).all()
    if not rows:
        return False
    wanted = [(ln.po_line_no, ln.qty, ln.lot or "") for ln in cmd.lines]
    if [(int(r.po_line_no), int(r.qty), r.lot_code) for r in rows] != wanted:
        raise IdempotencyKeyReused(cmd.idempotency_key or "")
    return True
