"""Request and response bodies; separate from tables and domain records on purpose."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from stockflow.stock.rules.catalogue import CODE_PATTERN
from stockflow.stock.rules.quantities import MAX_QUANTITY

Qty = Annotated[StrictInt, Field(gt=0, le=MAX_QUANTITY, description="Units in the SKU's base unit")]
Code = Annotated[str, Field(min_length=1, max_length=64)]
# A code being created: the one alphabet, with no spaces to trim, so that the
# exact text it was created with is the text that finds it again in a path.
NewCode = Annotated[str, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]
NewShortCode = Annotated[str, Field(min_length=1, max_length=32, pattern=CODE_PATTERN)]
Units = Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY, description="Units; 0 is allowed")]
LotCode = Annotated[str, Field(min_length=1, max_length=64)]

# Numbers that name rows are refused beyond what their column holds, so a
# client's typo is a 422 naming the field and not a database error.
MAX_ROW_ID = 2**63 - 1
"""Largest row id: ids are BIGINT on PostgreSQL, and SQLite's INTEGER is 64-bit."""
MAX_LINE_NO = 2**31 - 1
"""Largest line number: line numbers are INTEGER, 32-bit on PostgreSQL."""
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ROW_ID)]
LineNo = Annotated[StrictInt, Field(ge=1, le=MAX_LINE_NO)]


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Response bodies read a query record's attributes directly: ``Model.model_validate(view)``.

    A field is then declared in the record and in the response body, and no
    converter in between can forget one; fields the body leaves out (``replayed``)
    are not sent.
    """

    model_config = ConfigDict(from_attributes=True)


class SkuIn(Body):
    code: NewCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    base_unit: str = "each"
    active: bool = True
    lot_tracked: bool = False
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    attributes: dict[str, str] = Field(default_factory=dict)


class SkuOut(Out):
    code: str
    name: str
    base_unit: str
    active: bool
    lot_tracked: bool
    unit_price: Decimal | None
    attributes: dict[str, str]


class SkuPatch(Body):
    active: bool | None = Field(default=None, description="Switch the SKU on or off")
    unit_price: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=4,
        description="A new list price; only roles that set prices may send it",
    )  # fmt: skip


class LocationIn(Body):
    code: NewShortCode
    name: str = ""
    kind: str = "warehouse"
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    allow_negative: bool = False


class LocationOut(Out):
    code: str
    name: str
    kind: str
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    allow_negative: bool


class BinIn(Body):
    code: NewShortCode
    zone: str | None = None
    sequence: StrictInt = Field(default=0, ge=0, description="Place on the walking path")
    role: Literal["storage", "receiving", "staging", "quarantine", "returns"] = "storage"
    capacity: StrictInt | None = Field(default=None, gt=0, le=MAX_QUANTITY)


class BinOut(Out):
    location: str
    code: str
    zone: str | None
    sequence: int
    role: str
    capacity: int | None


class PlaceIn(Body):
    location: Code
    bin: str | None = None
    lot: str | None = None


class MoveIn(Body):
    sku: Code
    qty: Qty
    reason: str
    source: PlaceIn | None = Field(default=None, alias="from")
    target: PlaceIn | None = Field(default=None, alias="to")
    reference: str | None = Field(default=None, max_length=128)
    note: str | None = None
    expires_on: date | None = Field(default=None, description="Expiry of a new lot")


class AdjustmentIn(Body):
    sku: Code
    location: Code
    bin: str | None = None
    lot: str | None = None
    delta: StrictInt = Field(description="Units to add (positive) or remove (negative)")
    reason: str = "adjustment"
    # Required here, not only by the ledger's rule for ``adjustment``: an
    # adjustment is a correction someone must be able to audit, whatever its reason.
    note: Annotated[str, Field(min_length=1, description="Why the units were added or removed")]
    reference: str | None = None
    expires_on: date | None = None


class PlaceOut(Out):
    location: str
    bin: str | None
    lot: str | None


class MoveOut(Out):
    id: int
    sku: str
    qty: int
    reason: str
    source: PlaceOut | None = Field(serialization_alias="from")
    target: PlaceOut | None = Field(serialization_alias="to")
    actor: str
    reference: str | None
    note: str | None
    created_at: datetime


class PositionOut(Out):
    sku: str
    location: str
    bin: str
    lot: str | None
    expires_on: date | None
    on_hand: int
    allocated: int
    available: int
    expired: bool


class LocationAtpOut(Out):
    location: str
    on_hand: int
    allocated: int
    expired: int
    buffer: int
    available: int


class AtpOut(Out):
    sku: str
    on_hand: int
    allocated: int
    available: int
    locations: list[LocationAtpOut]


class BufferIn(Body):
    qty: Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)]


class ReserveLineIn(Body):
    sku: Code
    qty: Qty
    location: str | None = None
    lot: str | None = None


class ReservationIn(Body):
    lines: Annotated[list[ReserveLineIn], Field(min_length=1, max_length=500)]
    owner_ref: str | None = Field(default=None, max_length=128)


class CloseIn(Body):
    lines: dict[str, Qty] = Field(
        default_factory=dict, description="Units per SKU; leave empty for everything open"
    )
    reference: str | None = None


# The reservation bodies stay plain models built field by field (reservations.reservation_out):
# it answers every flash-sale request, and reading the record directly measured no faster.
class AllocationOut(BaseModel):
    line_no: int
    sku: str
    location: str
    bin: str
    lot: str | None
    qty: int
    released: int
    consumed: int
    moved: int = Field(description="Carried with the stock to another position")
    open: int


class ReservationOut(BaseModel):
    id: str
    owner_ref: str | None
    status: str
    created_at: datetime
    closed_at: datetime | None
    open_qty: int
    allocations: list[AllocationOut]


class DriftOut(Out):
    invariant: str
    subject: str
    expected: int
    actual: int
    message: str


class VerifyOut(Out):
    ok: bool
    drift: list[DriftOut]


class FieldError(BaseModel):
    field: str | None
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = Field(default=None, description="The input at fault, e.g. lines[0].qty")
    row: int | None = Field(default=None, description="1-based data row of an imported file")
    errors: list[FieldError] | None = Field(default=None, description="Every invalid input")
    sku: str | None = None
    requested: int | None = None
    available: int | None = Field(
        default=None, description="Units the line could have had (insufficient stock)"
    )
    location: str | None = None
