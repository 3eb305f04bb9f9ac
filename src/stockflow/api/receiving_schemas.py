"""Bodies for suppliers, purchase orders, ASNs, receipts and putaway; views turned into them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from stockflow.api.schemas import Body, Code, MoveOut, PlaceOut, Qty
from stockflow.receiving import queries as q
from stockflow.stock.ledger import MoveRecord
from stockflow.stock.rules.commands import Place
from stockflow.stock.rules.quantities import MAX_QUANTITY

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY, description="Units, may be 0")]
LineNo = Annotated[StrictInt, Field(ge=1, le=100_000)]
BinCode = Annotated[str, Field(min_length=1, max_length=32)]
Lot = Annotated[str | None, Field(default=None, max_length=64)]


class SupplierIn(Body):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(max_length=200)] = ""
    lead_time_days: StrictInt = Field(default=7, ge=0, le=3650)
    email: Annotated[str | None, Field(max_length=200)] = None


class SupplierOut(BaseModel):
    code: str
    name: str
    lead_time_days: int
    email: str | None


class PurchaseLineIn(Body):
    sku: Code
    qty: Qty
    unit_cost: Money


class PurchaseOrderIn(Body):
    supplier: Code
    location: Code
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=1000)]
    expected_on: date | None = Field(
        default=None, description="Default: today + the supplier's lead time"
    )
    reference: Annotated[str | None, Field(max_length=128)] = None


class PurchaseLineOut(BaseModel):
    line_no: int
    sku: str
    qty: int
    unit_cost: Decimal | None
    received: int
    damaged: int
    outstanding: int


class PurchaseOrderOut(BaseModel):
    id: str
    supplier: str
    location: str
    status: str
    expected_on: date
    reference: str | None
    total_cost: Decimal
    created_at: datetime
    updated_at: datetime
    lines: list[PurchaseLineOut]


class PurchaseOrderPage(BaseModel):
    """One page of purchase orders, newest first; send ``next`` back as ``cursor``."""

    items: list[PurchaseOrderOut]
    next: str | None


class AsnLineIn(Body):
    po_line_no: LineNo
    qty: Qty
    lot: Lot = None


class AsnIn(Body):
    po_id: Annotated[str, Field(min_length=1, max_length=32)]
    lines: Annotated[list[AsnLineIn], Field(min_length=1, max_length=1000)]
    expected_on: date | None = Field(default=None, description="Default: the PO's date")
    reference: Annotated[str | None, Field(max_length=128)] = None


class AsnLineOut(BaseModel):
    line_no: int
    po_line_no: int
    sku: str
    qty: int
    lot: str | None


class AsnOut(BaseModel):
    id: str
    po_id: str
    reference: str | None
    expected_on: date
    created_at: datetime
    lines: list[AsnLineOut]


class ReceiptLineIn(Body):
    sku: Code
    received_qty: Count = Field(description="Every unit that arrived, damaged ones included")
    damaged_qty: Count = Field(default=0, description="Of the units received")
    lot: Lot = None
    expires_on: date | None = None
    po_line_no: LineNo | None = Field(
        default=None, description="Needed only when the PO has the SKU on several lines"
    )


class ReceiptIn(Body):
    po_id: Annotated[str | None, Field(max_length=32)] = None
    asn_id: Annotated[str | None, Field(max_length=32)] = None
    location: Annotated[str | None, Field(max_length=32)] = Field(
        default=None, description="Required without a PO or ASN"
    )
    note: str | None = None
    lines: Annotated[list[ReceiptLineIn], Field(min_length=1, max_length=1000)]


class ReceiptLineOut(BaseModel):
    line_no: int
    sku: str
    lot: str | None
    po_line_no: int | None
    expected: int | None
    received: int
    damaged: int


class DiscrepancyOut(BaseModel):
    exception_id: int
    sku: str | None
    state: str
    message: str


class ReceiptOut(BaseModel):
    id: str
    location: str
    po_id: str | None
    asn_id: str | None
    actor: str
    note: str | None
    created_at: datetime
    lines: list[ReceiptLineOut]
    discrepancies: list[DiscrepancyOut]


class PutawaySuggestionOut(BaseModel):
    bin: str
    reason: str


class PutawayIn(Body):
    location: Code
    sku: Code
    qty: Qty
    to_bin: BinCode = Field(description="The bin scanned")
    lot: Lot = None
    from_bin: Annotated[str | None, Field(max_length=32)] = Field(
        default=None, description="Default: the location's dock"
    )


class PutawayOut(BaseModel):
    reference: str
    sku: str
    location: str
    lot: str | None
    from_bin: str
    to_bin: str
    qty: int
    note: str | None
    moves: list[int]


class HomeBinIn(Body):
    bin: BinCode


class HomeBinOut(BaseModel):
    location: str
    sku: str
    bin: str


class QuarantineReleaseIn(Body):
    location: Code
    sku: Code
    qty: Qty
    to_bin: BinCode = Field(description="The storage bin the units go to")
    note: Annotated[str, Field(min_length=1, description="Why they may be sold")]
    lot: Lot = None
    from_bin: Annotated[str | None, Field(max_length=32)] = None


class QuarantineScrapIn(Body):
    location: Code
    sku: Code
    qty: Qty
    note: Annotated[str, Field(min_length=1, description="Why they are written off")]
    lot: Lot = None
    from_bin: Annotated[str | None, Field(max_length=32)] = None


# --- views as response bodies ----------------------------------------------------------


def supplier_out(v: q.SupplierView) -> SupplierOut:
    """The response body for a supplier."""
    return SupplierOut(code=v.code, name=v.name, lead_time_days=v.lead_time_days, email=v.email)


def po_out(v: q.PurchaseOrderView) -> PurchaseOrderOut:
    """The response body for a purchase order."""
    return PurchaseOrderOut(
        id=v.id,
        supplier=v.supplier,
        location=v.location,
        status=v.status,
        expected_on=v.expected_on,
        reference=v.reference,
        total_cost=v.total_cost,
        created_at=v.created_at,
        updated_at=v.updated_at,
        lines=[
            PurchaseLineOut(
                line_no=ln.line_no,
                sku=ln.sku,
                qty=ln.qty,
                unit_cost=ln.unit_cost,
                received=ln.received,
                damaged=ln.damaged,
                outstanding=ln.outstanding,
            )
            for ln in v.lines
        ],
    )


def asn_out(v: q.AsnView) -> AsnOut:
    """The response body for an ASN."""
    return AsnOut(
        id=v.id,
        po_id=v.po_id,
        reference=v.reference,
        expected_on=v.expected_on,
        created_at=v.created_at,
        lines=[_asn_line(ln) for ln in v.lines],
    )


def _asn_line(ln: q.AsnLineView) -> AsnLineOut:
    return AsnLineOut(
        line_no=ln.line_no, po_line_no=ln.po_line_no, sku=ln.sku, qty=ln.qty, lot=ln.lot
    )


def receipt_out(v: q.ReceiptView) -> ReceiptOut:
    """The response body for a receipt."""
    return ReceiptOut(
        id=v.id,
        location=v.location,
        po_id=v.po_id,
        asn_id=v.asn_id,
        actor=v.actor,
        note=v.note,
        created_at=v.created_at,
        lines=[
            ReceiptLineOut(
                line_no=ln.line_no,
                sku=ln.sku,
                lot=ln.lot,
                po_line_no=ln.po_line_no,
                expected=ln.expected,
                received=ln.received,
                damaged=ln.damaged,
            )
            for ln in v.lines
        ],
        discrepancies=[
            DiscrepancyOut(exception_id=d.exception_id, sku=d.sku, state=d.state, message=d.message)
            for d in v.discrepancies
        ],
    )


def place_out(p: Place | None) -> PlaceOut | None:
    """One end of a move as a response."""
    return None if p is None else PlaceOut(location=p.location, bin=p.bin, lot=p.lot)


def move_out(m: MoveRecord) -> MoveOut:
    """A ledger move as a response."""
    return MoveOut(
        id=m.id,
        sku=m.sku,
        qty=m.qty,
        reason=m.reason,
        source=place_out(m.source),
        target=place_out(m.target),
        actor=m.actor,
        reference=m.reference,
        note=m.note,
        created_at=m.created_at,
    )
