"""The public event catalogue as schemas: the envelope, and each topic's payload.

Every event that leaves stockflow (webhook, live stream, message broker) is
an ``EventEnvelope`` whose ``data`` is the payload of its topic and version.
``CATALOGUE`` names the payload model of every public topic; the tests hold
every outbox row to it, so the schemas (and docs/events.md) cannot drift from
what is sent. ``document`` puts them in the OpenAPI document: each model as a
component, and each topic as an OpenAPI webhook (a request stockflow makes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stockflow.stock.rules.events import (
    CountVariance,
    Event,
    ExceptionAcknowledged,
    ExceptionOpened,
    ExceptionResolved,
    HoldReleased,
    OrderAllocated,
    OrderBackordered,
    OrderCancelled,
    OrderCaptured,
    OrderDelivered,
    OrderPromised,
    OrderReallocated,
    OrderShipped,
    ReceiptPosted,
    ReturnAuthorised,
    ReturnCancelled,
    ReturnClosed,
    ReturnInspected,
    ReturnReceived,
    StockChanged,
    TransferReceived,
    TransferShipped,
)


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


# --- the catalogue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One public topic: the event class that records it, its payload's model, when it is sent."""

    event: type[Event]
    data: type[Data]
    when: str

    @property
    def topic(self) -> str:
        """The topic, e.g. ``order.captured``."""
        return str(self.event.topic)

    @property
    def version(self) -> int:
        """The payload's version now."""
        return self.event.version


CATALOGUE: tuple[Entry, ...] = (
    Entry(
        StockChanged,
        StockChangedData,
        "A transaction changed a SKU's stock at a location (once per SKU and location).",
    ),
    Entry(
        OrderCaptured,
        OrderCapturedData,
        "An order was captured (by the API, a sheet, the order desk).",
    ),
    Entry(
        OrderAllocated,
        OrderAllocatedData,
        "Units were allocated to an order: at capture, by a backorder fill, after a re-allocation.",
    ),
    Entry(
        OrderBackordered,
        OrderBackorderedData,
        "An order ended a capture, a fill or a loss of stock with lines waiting for stock.",
    ),
    Entry(
        OrderPromised,
        OrderPromisedData,
        "A waiting order's promise date was set or moved.",
    ),
    Entry(
        HoldReleased,
        OrderReleasedData,
        "A person released an order from hold.",
    ),
    Entry(
        OrderReallocated,
        OrderReallocatedData,
        "An order gave back what it held, to be allocated afresh.",
    ),
    Entry(
        OrderShipped,
        OrderShippedData,
        "A shipment of an order left with a carrier.",
    ),
    Entry(
        OrderDelivered,
        OrderDeliveredData,
        "The carrier delivered a shipment of an order.",
    ),
    Entry(
        OrderCancelled,
        OrderCancelledData,
        "An order, or one line of it, was cancelled or rejected.",
    ),
    Entry(
        ExceptionOpened,
        ExceptionOpenedData,
        "Something a person must look at was put in the exceptions queue.",
    ),
    Entry(
        ExceptionAcknowledged,
        ExceptionAcknowledgedData,
        "Someone is on an exception.",
    ),
    Entry(
        ExceptionResolved,
        ExceptionResolvedData,
        "An exception was resolved, by a person or by what happened since.",
    ),
    Entry(
        ReceiptPosted,
        ReceiptPostedData,
        "A delivery was booked in at a location.",
    ),
    Entry(
        CountVariance,
        CountVarianceData,
        "A counted line differed from the books, and when a person decided on it.",
    ),
    Entry(
        TransferShipped,
        TransferShippedData,
        "A transfer left its location.",
    ),
    Entry(
        TransferReceived,
        TransferReceivedData,
        "A transfer was booked in at its destination.",
    ),
    Entry(
        ReturnAuthorised,
        ReturnUnitsData,
        "Shipped units of an order were authorised to come back.",
    ),
    Entry(
        ReturnReceived,
        ReturnUnitsData,
        "Returned units arrived.",
    ),
    Entry(
        ReturnInspected,
        ReturnInspectedData,
        "Arrived units were given a disposition.",
    ),
    Entry(
        ReturnClosed,
        ReturnUnitsData,
        "An RMA was closed.",
    ),
    Entry(
        ReturnCancelled,
        ReturnData,
        "An RMA nothing arrived for was cancelled.",
    ),
)
"""Every public topic, in the order docs/events.md lists them."""

BY_TOPIC = {entry.topic: entry for entry in CATALOGUE}

_REF = "#/components/schemas/{model}"


def document(schema: dict[str, Any]) -> None:
    """Add the envelope and every payload as components, and every topic as a webhook."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    models: list[type[BaseModel]] = [EventEnvelope]
    models += [m for m in dict.fromkeys(entry.data for entry in CATALOGUE)]
    for model in models:
        found = model.model_json_schema(ref_template=_REF)
        for name, part in {**found.pop("$defs", {}), model.__name__: found}.items():
            if components.setdefault(name, part) != part:
                raise ValueError(f"two schemas are called {name}")
    webhooks = schema.setdefault("webhooks", {})
    for entry in CATALOGUE:
        webhooks[entry.topic] = {"post": _webhook(entry)}


def _webhook(entry: Entry) -> dict[str, Any]:
    """A topic as an OpenAPI webhook: the envelope, its type and version fixed, its data."""
    body = {
        "allOf": [
            {"$ref": _REF.format(model="EventEnvelope")},
            {
                "type": "object",
                "properties": {
                    "type": {"const": entry.topic},
                    "version": {"const": entry.version},
                    "data": {"$ref": _REF.format(model=entry.data.__name__)},
                },
            },
        ]
    }
    return {
        "summary": entry.topic,
        "description": f"{entry.when} Payload version {entry.version}; see docs/events.md.",
        "operationId": f"event_{entry.topic.replace('.', '_')}",
        "tags": ["events"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"2XX": {"description": "Received; any other answer is tried again"}},
    }
