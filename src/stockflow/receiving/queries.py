"""Purchasing as people read it: suppliers, purchase orders, ASNs, receipts and putaways."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    asn_lines,
    asns,
    exceptions,
    incoming_supply,
    locations,
    purchase_orders,
    receipt_lines,
    receipts,
    skus,
    stock_moves,
    suppliers,
)
from stockflow.errors import InvalidInput, NotFound
from stockflow.receiving.rules.purchasing import (
    POStatus,
    UnknownAsn,
    UnknownPurchaseOrder,
    UnknownReceipt,
    UnknownSupplier,
    outstanding,
)
from stockflow.stock.queries.ledger import ledger_rows
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.scoping import seen


@dataclass(frozen=True, slots=True)
class SupplierView:
    """A supplier and how long it takes to deliver."""

    code: str
    name: str
    lead_time_days: int
    email: str | None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class POLineView:
    """One PO line: ordered, arrived (damaged among them), and still to come."""

    line_no: int
    sku: str
    qty: int
    unit_cost: Decimal | None
    received: int
    damaged: int

    @property
    def outstanding(self) -> int:
        """Units still to come (none after an over-receipt)."""
        return outstanding(self.qty, self.received)


@dataclass(frozen=True, slots=True)
class PurchaseOrderView:
    """A purchase order with its lines."""

    id: str
    supplier: str
    location: str
    status: str
    expected_on: date
    reference: str | None
    created_at: datetime
    updated_at: datetime
    lines: tuple[POLineView, ...]
    replayed: bool = False

    @property
    def total_cost(self) -> Decimal:
        """What the ordered units cost, at the PO's unit costs."""
        return sum((ln.qty * (ln.unit_cost or Decimal(0)) for ln in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class AsnLineView:
    """Units of a PO line announced on an ASN."""

    line_no: int
    po_line_no: int
    sku: str
    qty: int
    lot: str | None


@dataclass(frozen=True, slots=True)
class AsnView:
    """An advance shipping notice."""

    id: str
    po_id: str
    reference: str | None
    expected_on: date
    created_at: datetime
    lines: tuple[AsnLineView, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptLineView:
    """What arrived of one SKU and lot, against what was expected (None: blind)."""

    line_no: int
    sku: str
    lot: str | None
    po_line_no: int | None
    expected: int | None
    received: int
    damaged: int


@dataclass(frozen=True, slots=True)
class DiscrepancyView:
    """One receiving discrepancy in the exceptions queue."""

    exception_id: int
    sku: str | None
    state: str
    message: str


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A receipt with its lines and the discrepancies it raised."""

    id: str
    location: str
    po_id: str | None
    asn_id: str | None
    actor: str
    note: str | None
    created_at: datetime
    lines: tuple[ReceiptLineView, ...]
    discrepancies: tuple[DiscrepancyView, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class PutawayView:
    """One putaway: the units moved from a working bin to storage, and its ledger moves."""

    reference: str
    sku: str
    location: str
    lot: str | None
    from_bin: str
    to_bin: str
    qty: int
    note: str | None
    moves: tuple[int, ...]
    replayed: bool = False


SUPPLIERS = Keyset("suppliers", suppliers.c.code)
PURCHASE_ORDERS = Keyset(
    "purchase-orders",
    Key(purchase_orders.c.created_at, descending=True),
    Key(purchase_orders.c.id, descending=True),
)


def supplier_page(
    conn: Connection, *, after: str | None = None, limit: int, scope: Scope = EVERYWHERE
) -> Page[SupplierView]:
    """Suppliers the scope sees, in code order, after cursor ``after``."""
    query = select(suppliers).where(*seen(scope, supplier=suppliers.c.id))
    return SUPPLIERS.page(conn, query, after=after, limit=limit).map(_supplier)


def supplier_view(conn: Connection, code: str, *, scope: Scope = EVERYWHERE) -> SupplierView:
    """The supplier with ``code`` (``UnknownSupplier`` if none, or outside the scope)."""
    row = conn.execute(
        select(suppliers).where(suppliers.c.code == code, *seen(scope, supplier=suppliers.c.id))
    ).first()
    if row is None:
        raise UnknownSupplier(f"no supplier with code {code!r}", field="code")
    return _supplier(row)


def _supplier(r: Row[Any]) -> SupplierView:
    return SupplierView(r.code, r.name, int(r.lead_time_days), r.email)


def po_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """Purchase orders ``scope`` sees: delivering to its locations, from its suppliers."""
    return seen(
        scope, location=purchase_orders.c.location_id, supplier=purchase_orders.c.supplier_id
    )


def asn_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """ASNs ``scope`` sees: those of the purchase orders it sees."""
    where = po_seen(scope)
    return [asns.c.po_id.in_(select(purchase_orders.c.id).where(*where))] if where else []


def _po_query(scope: Scope) -> Select[Any]:
    return (
        select(
            purchase_orders,
            suppliers.c.code.label("supplier"),
            locations.c.code.label("location"),
        )
        .join(suppliers, suppliers.c.id == purchase_orders.c.supplier_id)
        .join(locations, locations.c.id == purchase_orders.c.location_id)
        .where(*po_seen(scope))
    )


def purchase_orders_by_id(
    conn: Connection, ids: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, PurchaseOrderView]:
    """Purchase orders with their lines, by id (unknown ones and unseen ones left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    heads = conn.execute(_po_query(scope).where(among(purchase_orders.c.id, wanted))).all()
    lines: dict[str, list[POLineView]] = defaultdict(list)
    found = [h.id for h in heads]
    for r in conn.execute(
        select(incoming_supply, skus.c.code.label("sku"))
        .join(skus, skus.c.id == incoming_supply.c.sku_id)
        .where(among(incoming_supply.c.document_id, found), incoming_supply.c.kind == "purchase")
        .order_by(incoming_supply.c.document_id, incoming_supply.c.line_no)
    ):
        lines[r.document_id].append(
            POLineView(
                int(r.line_no),
                r.sku,
                int(r.qty),
                r.unit_cost,
                int(r.received_qty),
                int(r.damaged_qty),
            )
        )
    return {
        h.id: PurchaseOrderView(
            h.id,
            h.supplier,
            h.location,
            h.status,
            h.expected_on,
            h.reference,
            h.created_at,
            h.updated_at,
            tuple(lines[h.id]),
        )
        for h in heads
    }


def purchase_order_view(
    conn: Connection, po_id: str, *, scope: Scope = EVERYWHERE
) -> PurchaseOrderView:
    """One purchase order, or ``UnknownPurchaseOrder`` (for one outside ``scope`` too)."""
    found = purchase_orders_by_id(conn, [po_id], scope=scope).get(po_id)
    if found is None:
        raise UnknownPurchaseOrder(f"no purchase order {po_id!r}", field="id")
    return found


def purchase_order_page(
    conn: Connection,
    *,
    status: str | None = None,
    supplier: str | None = None,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[PurchaseOrderView]:
    """Purchase orders, newest first, optionally of one status or supplier, after a cursor."""
    query = select(purchase_orders.c.id).where(*po_seen(scope))
    if status is not None:
        if status not in {s.value for s in POStatus}:
            choices = ", ".join(s.value for s in POStatus)
            raise InvalidInput(f"use one of: {choices}", field="status")
        query = query.where(purchase_orders.c.status == status)
    if supplier is not None:
        query = query.where(
            purchase_orders.c.supplier_id
            == select(suppliers.c.id).where(suppliers.c.code == supplier).scalar_subquery()
        )
    page = PURCHASE_ORDERS.page(conn, query, after=after, limit=limit)
    found = purchase_orders_by_id(conn, [r.id for r in page], scope=scope)
    return page.map(lambda r: found[r.id])


def asn_view(conn: Connection, asn_id: str, *, scope: Scope = EVERYWHERE) -> AsnView:
    """One ASN with its lines, or ``UnknownAsn`` (for one outside ``scope`` too)."""
    head = conn.execute(select(asns).where(asns.c.id == asn_id, *asn_seen(scope))).first()
    if head is None:
        raise UnknownAsn(f"no ASN {asn_id!r}", field="id")
    lines = conn.execute(
        select(asn_lines, skus.c.code.label("sku"))
        .join(skus, skus.c.id == asn_lines.c.sku_id)
        .where(asn_lines.c.asn_id == asn_id)
        .order_by(asn_lines.c.line_no)
    )
    return AsnView(
        head.id,
        head.po_id,
        head.reference,
        head.expected_on,
        head.created_at,
        tuple(
            AsnLineView(int(r.line_no), int(r.po_line_no), r.sku, int(r.qty), r.lot_code or None)
            for r in lines
        ),
    )


def receipt_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """Receipts ``scope`` sees: at its locations, and against its suppliers' purchase orders."""
    where = seen(scope, location=receipts.c.location_id)
    if scope.suppliers is not None:
        theirs = select(purchase_orders.c.id).where(*po_seen(scope))
        where.append(receipts.c.po_id.in_(theirs))
    return where


def receipt_view(conn: Connection, receipt_id: str, *, scope: Scope = EVERYWHERE) -> ReceiptView:
    """One receipt with its lines and discrepancies, or ``UnknownReceipt`` (outside ``scope``)."""
    head = conn.execute(
        select(receipts, locations.c.code.label("location"))
        .join(locations, locations.c.id == receipts.c.location_id)
        .where(receipts.c.id == receipt_id, *receipt_seen(scope))
    ).first()
    if head is None:
        raise UnknownReceipt(f"no receipt {receipt_id!r}", field="id")
    return ReceiptView(
        head.id,
        head.location,
        head.po_id,
        head.asn_id,
        head.actor,
        head.note,
        head.created_at,
        _receipt_lines(conn, receipt_id),
        _discrepancies(conn, receipt_id),
    )


def _receipt_lines(conn: Connection, receipt_id: str) -> tuple[ReceiptLineView, ...]:
    rows = conn.execute(
        select(receipt_lines, skus.c.code.label("sku"))
        .join(skus, skus.c.id == receipt_lines.c.sku_id)
        .where(receipt_lines.c.receipt_id == receipt_id)
        .order_by(receipt_lines.c.line_no)
    )
    return tuple(
        ReceiptLineView(
            int(r.line_no),
            r.sku,
            r.lot_code or None,
            r.po_line_no,
            None if r.expected_qty is None else int(r.expected_qty),
            int(r.received_qty),
            int(r.damaged_qty),
        )
        for r in rows
    )


def _discrepancies(conn: Connection, receipt_id: str) -> tuple[DiscrepancyView, ...]:
    """The exceptions the receipt raised (their reference is the receipt)."""
    raised = conn.execute(
        select(exceptions, skus.c.code.label("sku"))
        .outerjoin(skus, skus.c.id == exceptions.c.sku_id)
        .where(
            exceptions.c.reference == receipt_id,
            exceptions.c.kind == ExceptionKind.RECEIVING_DISCREPANCY.value,
        )
        .order_by(exceptions.c.id)
    )
    return tuple(DiscrepancyView(int(e.id), e.sku, e.state, e.message) for e in raised)


def putaway_view(conn: Connection, reference: str) -> PutawayView:
    """The putaway with this reference, read back from its ledger moves."""
    ids = [
        int(i)
        for i in conn.execute(
            select(stock_moves.c.id).where(
                stock_moves.c.reference == reference, stock_moves.c.reason == "putaway"
            )
        ).scalars()
    ]
    rows = sorted(ledger_rows(conn, ids), key=lambda r: r.id)
    if not rows or rows[0].source is None or rows[0].target is None:
        raise NotFound(f"no putaway {reference!r}", field="reference")
    first, source, target = rows[0], rows[0].source, rows[0].target
    return PutawayView(
        reference,
        first.sku,
        target.location,
        target.lot,
        source.bin,
        target.bin,
        sum(r.qty for r in rows),
        next((r.note for r in rows if r.note), None),
        tuple(r.id for r in rows),
    )
