"""The public event catalogue as schemas: the envelope, and each topic's payload.

Every event that leaves stockflow (webhook, live stream, message broker) is
an ``EventEnvelope`` whose ``data`` is the payload of its topic and version.
``event_catalogue`` says which model is whose.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Data(BaseModel):
    """A payload: exactly these fields, nothing else."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- the envelope --------------------------------------------------------------------


class Aggregate(BaseModel):
    """What the event is about, and its place among that thing's events."""

    type: str = Field(description="order, position, exception, receipt, count or transfer")
    id: str = Field(description='The aggregate\'s id: an order id, "SKU@LOCATION"...')
    sequence: int = Field(description="1, 2, 3... per aggregate, in commit order")


class EventEnvelope(BaseModel):
    """One event, as every way out carries it."""

    id: int = Field(description="Unique per event: the de-duplication key")
    type: str = Field(description="The topic, e.g. order.captured")
    version: int = Field(description="The version of the payload's shape")
    sequence: int = Field(description="The event's place in the stream: global commit order")
    timestamp: datetime = Field(description="When the change committed (UTC)")
    aggregate: Aggregate | None
    data: dict[str, Any] = Field(description="The payload: the topic's schema at that version")


# --- stock and orders ------------------------------------------------------------------


class StockChangedData(Data):
    sku: str
    location: str
    on_hand: int = Field(description="Units on hand at the location, every bin and lot")
    allocated: int = Field(description="Of those, units promised to orders and reservations")
    available: int = Field(description="on_hand - allocated (before buffers, fences, expiry)")


class OrderLineData(Data):
    line_no: int
    sku: str
    qty: int


class AllocatedLineData(Data):
    line_no: int
    sku: str = Field(description="The SKU allocated: a kit line's components one by one")
    allocated: int = Field(description="Units this step allocated")
    location: str


class WaitingLineData(Data):
    line_no: int
    sku: str
    waiting: int = Field(description="Units neither held, shipped nor cancelled")


class OrderCapturedData(Data):
    order_id: str
    channel: str
    external_id: str | None
    status: str
    lines: list[OrderLineData]
    promised_on: date | None = Field(description="When its missing units are expected")


class OrderAllocatedData(Data):
    order_id: str
    status: str = Field(description="The order's status after the allocation")
    lines: list[AllocatedLineData]


class OrderBackorderedData(Data):
    order_id: str
    status: str
    lines: list[WaitingLineData]


class OrderPromisedData(Data):
    order_id: str
    promised_on: date | None = Field(description="None: no incoming supply is known")
    previous: date | None


class OrderReleasedData(Data):
    order_id: str
    waiting: list[str] = Field(description="SKUs it still waits for")
    status: str


class OrderReallocatedData(Data):
    order_id: str
    skus: list[str] = Field(description="SKUs it gave back and waits for again")


class OrderShippedData(Data):
    order_id: str
    shipment_id: str
    location: str = Field(description="Where the shipment left from")
    carrier: str
    service: str
    tracking: str
    lines: list[OrderLineData]
    status: str = Field(description="The order's status: shipped once nothing is left to go")


class OrderDeliveredData(Data):
    order_id: str
    shipment_id: str
    delivered_at: datetime
    status: str = Field(description="The order's status: delivered once every shipment is")


class OrderCancelledData(Data):
    order_id: str
    line_no: int | None = Field(description="The line cancelled; None: the whole order")
    freed: list[str] = Field(description="SKUs whose units came free")
    waiting: list[str] = Field(description="SKUs a partly cancelled order still waits for")
    status: str


# --- exceptions, receipts, counts, transfers, returns ----------------------------------


class ExceptionData(Data):
    exception_id: int
    kind: str
    order_id: str | None
    reference: str | None = Field(description="The receipt, count, shipment... it is about")
    location: str | None = Field(description="Where it happened, when at one location")


class ExceptionOpenedData(ExceptionData):
    message: str
    sku: str | None


class ExceptionAcknowledgedData(ExceptionData):
    by: str


class ExceptionResolvedData(ExceptionData):
    resolution: str = Field(description="Why: by hand, or what made it moot")
    by: str = Field(description="Who: a user, or stockflow itself")


class ReceiptLineData(Data):
    sku: str
    qty: int = Field(description="Every unit that arrived")
    damaged: int = Field(description="Of those, units put in quarantine")
    lot: str | None


class ReceiptPostedData(Data):
    receipt_id: str
    location: str
    po: str | None
    asn: str | None
    supplier: str | None = Field(description="The purchase order's supplier")
    lines: list[ReceiptLineData]


class CountVarianceData(Data):
    count_id: str
    line_no: int
    location: str
    bin: str
    sku: str
    lot: str | None
    expected: int = Field(description="The books when the line was counted")
    counted: int
    variance: int = Field(description="counted - expected")
    status: str = Field(description="adjusted, pending_approval, approved or rejected")


class TransferLineData(Data):
    line_no: int
    sku: str
    lot: str | None
    qty: int


class ArrivedLineData(Data):
    line_no: int
    sku: str
    lot: str | None
    shipped: int
    received: int = Field(description="Every unit that arrived, damaged ones included")
    damaged: int
    lost: int = Field(description="Shipped but never arrived: written off")


class TransferShippedData(Data):
    transfer_id: str
    from_: str = Field(alias="from")
    to: str
    expected_on: date
    lines: list[TransferLineData]


class TransferReceivedData(Data):
    transfer_id: str
    from_: str = Field(alias="from")
    to: str
    lines: list[ArrivedLineData]


class ReturnData(Data):
    rma_id: str
    order_id: str


class ReturnUnitsData(ReturnData):
    units: int


class ReturnInspectedData(ReturnData):
    line_no: int = Field(description="The RMA's line")
    sku: str
    lot: str | None
    disposition: str = Field(description="restock, repair, quarantine or scrap")
    qty: int
    location: str = Field(description="Where the units came back to")
