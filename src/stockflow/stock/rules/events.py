"""What happened, in one vocabulary: the events use cases record.

A use case records an event in the transaction that caused it. The event goes
to the outbox in that same transaction (its topic, version, key and payload),
so a relay publishes it if and only if the change committed; and once that
transaction has committed, the composition root's handler table runs the
reactions to it (fill backorders, re-promise, retire stale pick tasks). A
feature never calls another feature's reaction itself.

Names are past tense; topics are ``<aggregate>.<what happened>``. A payload
changes shape only with a new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import ClassVar, Protocol


class Topic(StrEnum):
    """Every topic an event is published under."""

    STOCK_FREED = "stock.freed"
    STOCK_TAKEN_BACK = "stock.taken_back"
    ALLOCATIONS_CARRIED = "allocations.carried"
    SUPPLY_CHANGED = "supply.changed"
    ORDER_CAPTURED = "order.captured"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_HOLD_RELEASED = "order.hold_released"
    ORDER_REALLOCATED = "order.reallocated"
    EXCEPTION_RAISED = "exception.raised"
    RETURN_AUTHORISED = "return.authorised"
    RETURN_RECEIVED = "return.received"
    RETURN_INSPECTED = "return.inspected"
    RETURN_CLOSED = "return.closed"
    RETURN_CANCELLED = "return.cancelled"


def _skus(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(codes)))


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened; subclasses name it and say what it carries."""

    topic: ClassVar[Topic]
    version: ClassVar[int] = 1
    # False: only reactions inside stockflow follow it; it is not written to the outbox.
    published: ClassVar[bool] = True
    # What kind of thing ``key`` names: "order", "position", "exception"...
    aggregate: ClassVar[str | None] = None

    @property
    def key(self) -> str | None:
        """The id of the aggregate the event belongs to (an order id, "SKU@LOC"), if any."""
        return None

    @property
    def scope(self) -> dict[str, list[str]] | None:
        """The ``locations``, ``channels`` and ``suppliers`` it concerns, for partner filters.

        A subscriber limited to some locations (or channels, or suppliers) is told
        of an event only when the event names one of them; None names none.
        """
        return None

    def payload(self) -> dict[str, object]:
        """The event as JSON-ready data."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class FreesStock(Protocol):
    """An event after which waiting orders may get stock."""

    @property
    def wanted(self) -> tuple[str, ...]:
        """The SKUs whose waiting orders get their chance."""
        ...


class ShrinksHoldings(Protocol):
    """An event after which orders hold fewer units than before."""

    @property
    def holders(self) -> tuple[str, ...]:
        """The orders that hold less now: pick tasks for units they lost are stale."""
        ...


# --- stock ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockFreed(Event):
    """Units of these SKUs became free to promise: a receipt, a release, a return to stock..."""

    topic = Topic.STOCK_FREED
    skus: tuple[str, ...]
    cause: str  # receipt, move, release, return, count, transfer, quarantine, import

    @classmethod
    def of(cls, skus: Iterable[str], cause: str) -> StockFreed:
        """The event for these SKU codes (repeats dropped, in code order)."""
        return cls(_skus(skus), cause)

    @property
    def wanted(self) -> tuple[str, ...]:
        """Waiting orders for every SKU that came free get their chance."""
        return self.skus


@dataclass(frozen=True, slots=True)
class SupplyChanged(Event):
    """Stock expected to arrive for these SKUs changed: promise dates may move."""

    topic = Topic.SUPPLY_CHANGED
    skus: tuple[str, ...]
    cause: str  # purchase order placed, closed or cancelled; receipt; transfer shipped

    @classmethod
    def of(cls, skus: Iterable[str], cause: str) -> SupplyChanged:
        """The event for these SKU codes (repeats dropped, in code order)."""
        return cls(_skus(skus), cause)


@dataclass(frozen=True, slots=True)
class StockTakenBack(Event):
    """A bin held fewer units than the books said; these orders lost units of the SKU.

    ``on_floor``: the orders, each with whether it was being picked at the time.
    """

    topic = Topic.STOCK_TAKEN_BACK
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
    allocation_ids: tuple[int, ...]
    reference: str


# --- orders ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderCaptured(Event):
    """An order came in; ``waiting`` are the SKUs it still waits for (none when allocated)."""

    topic = Topic.ORDER_CAPTURED
    order_id: str
    channel: str
    status: str
    waiting: tuple[str, ...] = ()

    @property
    def key(self) -> str | None:
        return self.order_id


@dataclass(frozen=True, slots=True)
class OrderCancelled(Event):
    """An order (or one line of it) was cancelled or rejected; ``freed`` came free with it."""

    topic = Topic.ORDER_CANCELLED
    order_id: str
    line_no: int | None
    freed: tuple[str, ...]
    waiting: tuple[str, ...]  # what a partly cancelled order still waits for

    @property
    def key(self) -> str | None:
        return self.order_id

    @property
    def wanted(self) -> tuple[str, ...]:
        """What came free, and what the order itself may now get (an all-or-nothing rest)."""
        return _skus((*self.freed, *self.waiting))

    @property
    def holders(self) -> tuple[str, ...]:
        """The cancelled order gave its units back."""
        return (self.order_id,)


@dataclass(frozen=True, slots=True)
class HoldReleased(Event):
    """A person let a held order go on; ``waiting`` are the SKUs it still waits for."""

    topic = Topic.ORDER_HOLD_RELEASED
    order_id: str
    waiting: tuple[str, ...]

    @property
    def key(self) -> str | None:
        return self.order_id

    @property
    def wanted(self) -> tuple[str, ...]:
        """A held order was passed over by fills: stock that came meanwhile is offered now."""
        return self.waiting


@dataclass(frozen=True, slots=True)
class OrderReallocated(Event):
    """An order gave back what it held, to be allocated afresh by today's rules."""

    topic = Topic.ORDER_REALLOCATED
    order_id: str
    skus: tuple[str, ...]

    @property
    def key(self) -> str | None:
        return self.order_id

    @property
    def wanted(self) -> tuple[str, ...]:
        """The order's units go back in the queue, and it waits its turn for them."""
        return self.skus

    @property
    def holders(self) -> tuple[str, ...]:
        """The order gave its units back."""
        return (self.order_id,)


# --- the exceptions queue ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExceptionRaised(Event):
    """Something a person must look at was put in the exceptions queue."""

    topic = Topic.EXCEPTION_RAISED
    kind: str
    message: str
    order_id: str | None
    reference: str | None

    @property
    def key(self) -> str | None:
        return self.order_id


# --- returns ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReturnChanged(Event):
    """An RMA moved on; ``details`` say how (units, disposition, refund...)."""

    topic = Topic.RETURN_AUTHORISED
    rma_id: str
    order_id: str
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        # Keyed by order: a consumer sees an order's returns in step with its other events.
        return self.order_id

    def payload(self) -> dict[str, object]:
        details = {str(k): _plain(v) for k, v in self.details.items()}
        return {"rma_id": self.rma_id, "order_id": self.order_id, **details}


@dataclass(frozen=True, slots=True)
class ReturnAuthorised(ReturnChanged):
    """Shipped units of an order may come back."""

    topic = Topic.RETURN_AUTHORISED


@dataclass(frozen=True, slots=True)
class ReturnReceived(ReturnChanged):
    """Returned units arrived and wait for inspection."""

    topic = Topic.RETURN_RECEIVED


@dataclass(frozen=True, slots=True)
class ReturnInspected(ReturnChanged):
    """Arrived units were given a disposition."""

    topic = Topic.RETURN_INSPECTED


@dataclass(frozen=True, slots=True)
class ReturnClosed(ReturnChanged):
    """An RMA is done."""

    topic = Topic.RETURN_CLOSED


@dataclass(frozen=True, slots=True)
class ReturnCancelled(ReturnChanged):
    """An RMA nothing arrived for was called off."""

    topic = Topic.RETURN_CANCELLED
