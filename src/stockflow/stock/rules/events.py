"""What happened, in one vocabulary: the events use cases record.

A use case records an event in the transaction that caused it. The event goes
to the outbox in that same transaction (its topic, version, key and payload),
so a relay publishes it if and only if the change committed; and once that
transaction has committed, the composition root's handler table runs the
reactions to it (fill backorders, re-promise, retire stale pick tasks). A
feature never calls another feature's reaction itself.

Names are past tense; topics are ``<aggregate>.<what happened>``. A payload
changes shape only with a new version. The public ones are the catalogue
(docs/events.md); the others only reactions inside stockflow follow. The
stock core's and orders' events are here; those of the exceptions queue,
receiving, counts, transfers and returns are in ``site_events`` and named
here too, so this module is the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from stockflow.stock.rules.event_base import (
    HIDDEN,
    Event,
    FreesStock,
    OrderChanged,
    ShrinksHoldings,
    Topic,
    named_scope,
    payload_of,
    sku_codes,
)
from stockflow.stock.rules.site_events import (
    ArrivedLine,
    CountVariance,
    ExceptionAcknowledged,
    ExceptionChanged,
    ExceptionOpened,
    ExceptionResolved,
    ReceiptLine,
    ReceiptPosted,
    ReturnAuthorised,
    ReturnCancelled,
    ReturnChanged,
    ReturnClosed,
    ReturnInspected,
    ReturnReceived,
    TransferChanged,
    TransferLine,
    TransferReceived,
    TransferShipped,
)

__all__ = [
    "AllocatedLine",
    "AllocationsCarried",
    "ArrivedLine",
    "CountVariance",
    "Event",
    "ExceptionAcknowledged",
    "ExceptionChanged",
    "ExceptionOpened",
    "ExceptionResolved",
    "FreesStock",
    "HoldReleased",
    "OrderAllocated",
    "OrderBackordered",
    "OrderCancelled",
    "OrderCaptured",
    "OrderChanged",
    "OrderDelivered",
    "OrderLine",
    "OrderPromised",
    "OrderReallocated",
    "OrderShipped",
    "ReceiptLine",
    "ReceiptPosted",
    "ReturnAuthorised",
    "ReturnCancelled",
    "ReturnChanged",
    "ReturnClosed",
    "ReturnInspected",
    "ReturnReceived",
    "ShrinksHoldings",
    "StockChanged",
    "StockFreed",
    "StockTakenBack",
    "SupplyChanged",
    "Topic",
    "TransferChanged",
    "TransferLine",
    "TransferReceived",
    "TransferShipped",
    "WaitingLine",
]


@dataclass(frozen=True, slots=True)
class StockChanged(Event):
    """A SKU's totals at a location after a transaction changed them (every bin and lot).

    Written by ``stock.changes`` in one statement per transaction; the class
    says what that statement writes.
    """

    topic = Topic.STOCK_CHANGED
    aggregate = "position"
    sku: str
    location: str
    on_hand: int
    allocated: int
    available: int  # on hand less allocated

    @property
    def key(self) -> str | None:
        return f"{self.sku}@{self.location}"

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(locations=[self.location])


@dataclass(frozen=True, slots=True)
class StockFreed(Event):
    """Units of these SKUs became free to promise: a receipt, a release, a return to stock..."""

    topic = Topic.STOCK_FREED
    published = False
    skus: tuple[str, ...]
    cause: str  # receipt, move, release, return, count, transfer, quarantine, import

    @classmethod
    def of(cls, skus: Iterable[str], cause: str) -> StockFreed:
        """The event for these SKU codes (repeats dropped, in code order)."""
        return cls(sku_codes(skus), cause)

    @property
    def wanted(self) -> tuple[str, ...]:
        """Waiting orders for every SKU that came free get their chance."""
        return self.skus


@dataclass(frozen=True, slots=True)
class SupplyChanged(Event):
    """Stock expected to arrive for these SKUs changed: promise dates may move."""

    topic = Topic.SUPPLY_CHANGED
    published = False
    skus: tuple[str, ...]
    cause: str  # purchase order placed, closed or cancelled; receipt; transfer shipped

    @classmethod
    def of(cls, skus: Iterable[str], cause: str) -> SupplyChanged:
        """The event for these SKU codes (repeats dropped, in code order)."""
        return cls(sku_codes(skus), cause)


@dataclass(frozen=True, slots=True)
class StockTakenBack(Event):
    """A bin held fewer units than the books said; these orders lost units of the SKU.

    ``on_floor``: the orders, each with whether it was being picked at the time.
    """

    topic = Topic.STOCK_TAKEN_BACK
    published = False
    sku: str
    cause: str  # short_pick or count_variance
    actor: str
    on_floor: tuple[tuple[str, bool], ...] = field(default=())

    @property
    def order_ids(self) -> list[str]:
        """The orders that lost units, in id order."""
        return [oid for oid, _ in self.on_floor]

    @property
    def wanted(self) -> tuple[str, ...]:
        """The orders that lost units are re-allocated (with the rest, by priority)."""
        return (self.sku,)

    @property
    def holders(self) -> tuple[str, ...]:
        """The orders that lost units."""
        return tuple(self.order_ids)


@dataclass(frozen=True, slots=True)
class AllocationsCarried(Event):
    """Promised units were carried to another bin (a put-away), their allocations with them."""

    topic = Topic.ALLOCATIONS_CARRIED
    published = False
    allocation_ids: tuple[int, ...]
    reference: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    """An order line as captured."""

    line_no: int
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class AllocatedLine:
    """Units of a line allocated at a location (a kit line: each of its components)."""

    line_no: int
    sku: str
    allocated: int
    location: str


@dataclass(frozen=True, slots=True)
class WaitingLine:
    """Units of a line that wait for stock."""

    line_no: int
    sku: str
    waiting: int


@dataclass(frozen=True, slots=True)
class OrderCaptured(OrderChanged):
    """An order came in; ``waiting`` are the SKUs it still waits for (none when allocated)."""

    topic = Topic.ORDER_CAPTURED
    version = 2  # 2: lines and promise date; the channel in the payload, waiting SKUs not
    status: str = ""
    external_id: str | None = None
    lines: tuple[OrderLine, ...] = ()
    promised_on: date | None = None
    waiting: tuple[str, ...] = field(default=(), kw_only=True, metadata=HIDDEN)

    def payload(self) -> dict[str, object]:
        out = payload_of(self)
        return {"order_id": out.pop("order_id"), "channel": self.channel, **out}


@dataclass(frozen=True, slots=True)
class OrderAllocated(OrderChanged):
    """Units were allocated to an order: at capture, by a backorder fill or a re-allocation.

    ``lines`` are the units this step allocated, per line, SKU and location.
    """

    topic = Topic.ORDER_ALLOCATED
    status: str
    lines: tuple[AllocatedLine, ...]

    @property
    def scope(self) -> dict[str, list[str]] | None:
        here = (ln.location for ln in self.lines)
        return named_scope(channels=[self.channel], locations=(*self.sites, *here))


@dataclass(frozen=True, slots=True)
class OrderBackordered(OrderChanged):
    """An order ended a capture, a fill or a loss with lines waiting for stock."""

    topic = Topic.ORDER_BACKORDERED
    status: str
    lines: tuple[WaitingLine, ...]


@dataclass(frozen=True, slots=True)
class OrderPromised(OrderChanged):
    """A waiting order's promise date was set or moved (None: no supply known)."""

    topic = Topic.ORDER_PROMISED
    promised_on: date | None
    previous: date | None


@dataclass(frozen=True, slots=True)
class OrderCancelled(OrderChanged):
    """An order (or one line of it) was cancelled or rejected; ``freed`` came free with it."""

    topic = Topic.ORDER_CANCELLED
    version = 2  # 2: the order's status after it
    line_no: int | None
    freed: tuple[str, ...]
    waiting: tuple[str, ...]  # what a partly cancelled order still waits for
    status: str = ""

    @property
    def wanted(self) -> tuple[str, ...]:
        """What came free, and what the order itself may now get (an all-or-nothing rest)."""
        return sku_codes((*self.freed, *self.waiting))

    @property
    def holders(self) -> tuple[str, ...]:
        """The cancelled order gave its units back."""
        return (self.order_id,)


@dataclass(frozen=True, slots=True)
class HoldReleased(OrderChanged):
    """A person let a held order go on; ``waiting`` are the SKUs it still waits for."""

    topic = Topic.ORDER_RELEASED
    waiting: tuple[str, ...]
    status: str = ""

    @property
    def wanted(self) -> tuple[str, ...]:
        """A held order was passed over by fills: stock that came meanwhile is offered now."""
        return self.waiting


@dataclass(frozen=True, slots=True)
class OrderReallocated(OrderChanged):
    """An order gave back what it held, to be allocated afresh by today's rules."""

    topic = Topic.ORDER_REALLOCATED
    skus: tuple[str, ...]

    @property
    def wanted(self) -> tuple[str, ...]:
        """The order's units go back in the queue, and it waits its turn for them."""
        return self.skus

    @property
    def holders(self) -> tuple[str, ...]:
        """The order gave its units back."""
        return (self.order_id,)


@dataclass(frozen=True, slots=True)
class OrderShipped(OrderChanged):
    """One shipment of an order left a location with a carrier."""

    topic = Topic.ORDER_SHIPPED
    shipment_id: str
    location: str
    carrier: str
    service: str
    tracking: str
    lines: tuple[OrderLine, ...]
    status: str  # the order's, after it: shipped once nothing is left to go

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(channels=[self.channel], locations=(*self.sites, self.location))


@dataclass(frozen=True, slots=True)
class OrderDelivered(OrderChanged):
    """The carrier delivered one shipment of an order."""

    topic = Topic.ORDER_DELIVERED
    shipment_id: str
    delivered_at: datetime
    status: str  # the order's: delivered once every shipment is
