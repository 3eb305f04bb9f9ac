"""The public event catalogue: each topic, the event that records it, its schema, when it is sent.

``CATALOGUE`` names the payload model of every public topic; the tests hold
every outbox row to it, so the schemas (and docs/events.md) cannot drift from
what is sent. ``document`` puts them in the OpenAPI document: each model as a
component, and each topic as an OpenAPI webhook (a request stockflow makes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from stockflow.api.event_schemas import (
    CountVarianceData,
    Data,
    EventEnvelope,
    ExceptionAcknowledgedData,
    ExceptionOpenedData,
    ExceptionResolvedData,
    OrderAllocatedData,
    OrderBackorderedData,
    OrderCancelledData,
    OrderCapturedData,
    OrderDeliveredData,
    OrderPromisedData,
    OrderReallocatedData,
    OrderReleasedData,
    OrderShippedData,
    ReceiptPostedData,
    ReturnData,
    ReturnInspectedData,
    ReturnUnitsData,
    StockChangedData,
    TransferReceivedData,
    TransferShippedData,
)
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
