"""Request and response bodies for channels, customers, kits, supply, orders and exceptions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from stockflow.api.schemas import Body, Code, LineNo, NewCode, NewShortCode, Out, Qty
from stockflow.stock.rules.quantities import MAX_QUANTITY

_INT32 = 2**31 - 1
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=9, decimal_places=6)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=9, decimal_places=6)]


class ChannelIn(Body):
    code: NewShortCode
    name: Annotated[str, Field(max_length=200)] = ""
    kind: str = "web"
    priority: StrictInt = Field(default=0, ge=-_INT32, le=_INT32, description="Higher wins")
    ship_from: Annotated[list[Code], Field(max_length=500)] = Field(
        default_factory=list, description="Location codes; empty means every sellable location"
    )
    max_splits: StrictInt = Field(default=1, ge=1, le=1000)
    allow_partial: StrictBool = False
    backorder_policy: Literal["allow", "reject", "allow_days"] = "allow"
    backorder_days: StrictInt | None = Field(default=None, ge=0, le=36500)
    hold_over_value: Money | None = None
    hold_new_customers: StrictBool = False


class FenceOut(Out):
    sku: str
    location: str
    qty: int


class ChannelOut(Out):
    code: str
    name: str
    kind: str
    priority: int
    ship_from: list[str]
    max_splits: int
    allow_partial: bool
    backorder_policy: str
    backorder_days: int | None
    hold_over_value: Decimal | None
    hold_new_customers: bool
    fences: list[FenceOut]


class FenceIn(Body):
    qty: Annotated[StrictInt, Field(ge=0, le=MAX_QUANTITY)]


class CustomerIn(Body):
    code: NewCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    address: str | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class CustomerOut(Out):
    code: str
    name: str
    email: str | None
    phone: str | None
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    created_at: datetime


class KitIn(Body):
    components: dict[Code, Qty] = Field(description="Units of each component SKU one kit takes")


class KitOut(Out):
    kit: str
    components: dict[str, int]


class SupplyIn(Body):
    kind: Literal["purchase", "transfer"]
    reference: Annotated[str, Field(min_length=1, max_length=128)]
    sku: Code
    location: Annotated[str, Field(min_length=1, max_length=32)]
    qty: Qty
    expected_on: date


class SupplyOut(Out):
    id: int
    kind: str
    reference: str
    sku: str
    location: str
    qty: int
    received_qty: int
    expected_on: date


class OrderLineBody(Body):
    sku: Code
    qty: Qty
    unit_price: Money | None = None


class OrderIn(Body):
    channel: Annotated[str, Field(min_length=1, max_length=32)]
    external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="The channel's own order number; sending it again replays"
    )
    customer: Code | None = None
    ship_to: Annotated[str, Field(max_length=2000)] | None = None
    ship_to_latitude: Latitude | None = None
    ship_to_longitude: Longitude | None = None
    lines: Annotated[list[OrderLineBody], Field(min_length=1, max_length=500)]


class OrderLineOut(Out):
    line_no: int
    sku: str
    qty: int
    unit_price: Decimal | None = Field(
        description="Null when the line has none or the caller may not see prices"
    )
    allocated: int
    shipped: int
    cancelled: int
    waiting: int = Field(description="Units neither held, shipped nor cancelled: the backorder")


class OrderOut(Out):
    id: str
    channel: str
    external_id: str | None
    customer: str | None
    ship_to: str | None
    status: str
    hold_reason: str | None
    promise_date: date | None
    value: Decimal | None = Field(description="Null for a caller who may not see prices")
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]
    decisions: list[str] = Field(description="Why the order stands where it does, in order")


class CancelIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    line_no: LineNo | None = Field(default=None, description="Only this line")


class RejectIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ExceptionOut(Out):
    id: int
    kind: str
    state: str
    order_id: str | None
    sku: str | None
    message: str
    created_at: datetime
    updated_at: datetime
    reference: str | None = None
