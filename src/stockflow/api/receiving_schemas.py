"""Bodies for suppliers, purchase orders, ASNs, receipts and putaway; views turned into them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictInt

from stockflow.api.schemas import Body, Code, NewShortCode, Out, Qty
from stockflow.stock.rules.access import Principal
from stockflow.stock.rules.quantities import MAX_QUANTITY

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY, description="Units, may be 0")]
LineNo = Annotated[StrictInt, Field(ge=1, le=100_000)]
BinCode = Annotated[str, Field(min_length=1, max_length=32)]
Lot = Annotated[str | None, Field(default=None, max_length=64)]


class SupplierIn(Body):
    code: NewShortCode
    name: Annotated[str, Field(max_length=200)] = ""
    lead_time_days: StrictInt = Field(default=7, ge=0, le=3650)
    email: Annotated[str | None, Field(max_length=200)] = None


class SupplierOut(Out):
    code: str
    name: str
    lead_time_days: int
    email: str | None


class PurchaseLineIn(Body):
    sku: Code
    qty: Qty
    unit_cost: Money = Field(description="A cost: only a role that sets costs may send it")


class PurchaseOrderIn(Body):
    supplier: Code
    location: Code
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=1000)]
    expected_on: date | None = Field(
        default=None, description="Default: today + the supplier's lead time"
    )
    reference: Annotated[str | None, Field(max_length=128)] = None


class PurchaseLineOut(Out):
    line_no: int
    sku: str
    qty: int
    unit_cost: Decimal | None = Field(description="Null for a role that does not see costs")
    received: int
    damaged: int
    outstanding: int


class PurchaseOrderOut(Out):
    id: str
    supplier: str
    location: str
    status: str
    expected_on: date
    reference: str | None
    total_cost: Decimal | None = Field(description="Null for a role that does not see costs")
    created_at: datetime
    updated_at: datetime
    lines: list[PurchaseLineOut]

    def seen_by(self, who: Principal) -> PurchaseOrderOut:
        """The order as ``who`` may read it: unit costs and their total only if it sees costs."""
        if who.sees_costs:
            return self
        lines = [ln.model_copy(update={"unit_cost": None}) for ln in self.lines]
        return self.model_copy(update={"total_cost": None, "lines": lines})


class AsnLineIn(Body):
    po_line_no: LineNo
    qty: Qty
    lot: Lot = None


class AsnIn(Body):
    po_id: Annotated[str, Field(min_length=1, max_length=32)]
    lines: Annotated[list[AsnLineIn], Field(min_length=1, max_length=1000)]
    expected_on: date | None = Field(default=None, description="Default: the PO's date")
    reference: Annotated[str | None, Field(max_length=128)] = None


class AsnLineOut(Out):
    line_no: int
    po_line_no: int
    sku: str
    qty: int
    lot: str | None


class AsnOut(Out):
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


class ReceiptLineOut(Out):
    line_no: int
    sku: str
    lot: str | None
    po_line_no: int | None
    expected: int | None
    received: int
    damaged: int


class DiscrepancyOut(Out):
    exception_id: int
    sku: str | None
    state: str
    message: str


class ReceiptOut(Out):
    id: str
    location: str
    po_id: str | None
    asn_id: str | None
    actor: str
    note: str | None
    created_at: datetime
    lines: list[ReceiptLineOut]
    discrepancies: list[DiscrepancyOut]


class PutawaySuggestionOut(Out):
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


class PutawayOut(Out):
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


class HomeBinOut(Out):
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
