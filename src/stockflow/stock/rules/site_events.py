"""Events of the exceptions queue, receiving, counts, transfers and returns.

Part of the one vocabulary: ``events`` names every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from stockflow.stock.rules.event_base import (
    HIDDEN,
    Event,
    OrderChanged,
    Topic,
    named_scope,
    plain,
)

# --- the exceptions queue ---------------------------------------------------------
# Keyed by the exception's id; the scope names what it is about: its order's
# channel and sites, and the location where it happened.


@dataclass(frozen=True, slots=True)
class ExceptionChanged(Event):
    """What every exception event shares: the exception and what it concerns."""

    aggregate = "exception"
    exception_id: int
    kind: str
    order_id: str | None
    reference: str | None
    location: str | None
    channel: str = field(default="", kw_only=True, metadata=HIDDEN)
    sites: tuple[str, ...] = field(default=(), kw_only=True, metadata=HIDDEN)

    @property
    def key(self) -> str | None:
        return str(self.exception_id)

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(channels=[self.channel], locations=(*self.sites, self.location or ""))


@dataclass(frozen=True, slots=True)
class ExceptionOpened(ExceptionChanged):
    """Something a person must look at was put in the exceptions queue."""

    topic = Topic.EXCEPTION_OPENED
    message: str = ""
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionAcknowledged(ExceptionChanged):
    """Someone is on an exception."""

    topic = Topic.EXCEPTION_ACKNOWLEDGED
    by: str = ""


@dataclass(frozen=True, slots=True)
class ExceptionResolved(ExceptionChanged):
    """An exception was dealt with: by a person, or by what happened since (``by`` stockflow)."""

    topic = Topic.EXCEPTION_RESOLVED
    resolution: str = ""
    by: str = ""


# --- receiving, counts, transfers ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """Units of a SKU (and lot) that arrived; ``damaged`` of them went to quarantine."""

    sku: str
    qty: int
    damaged: int
    lot: str | None


@dataclass(frozen=True, slots=True)
class ReceiptPosted(Event):
    """A delivery was booked in at a location, against a PO or ASN or none."""

    topic = Topic.RECEIPT_POSTED
    aggregate = "receipt"
    receipt_id: str
    location: str
    po: str | None
    asn: str | None
    supplier: str | None
    lines: tuple[ReceiptLine, ...]

    @property
    def key(self) -> str | None:
        return self.receipt_id

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(locations=[self.location], suppliers=[self.supplier or ""])


@dataclass(frozen=True, slots=True)
class CountVariance(Event):
    """A counted line differed from the books: when counted, and when a person decided on it.

    ``status`` says what became of it: ``adjusted`` (within tolerance, posted
    at once), ``pending_approval``, ``approved`` (posted) or ``rejected``.
    """

    topic = Topic.COUNT_VARIANCE
    aggregate = "count"
    count_id: str
    line_no: int
    location: str
    bin: str
    sku: str
    lot: str | None
    expected: int
    counted: int
    variance: int
    status: str

    @property
    def key(self) -> str | None:
        return self.count_id

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(locations=[self.location])


@dataclass(frozen=True, slots=True)
class TransferLine:
    """Units of a SKU (and lot) shipped on a transfer."""

    line_no: int
    sku: str
    lot: str | None
    qty: int


@dataclass(frozen=True, slots=True)
class ArrivedLine:
    """What arrived of a transfer line: damaged units went to quarantine, lost ones written off."""

    line_no: int
    sku: str
    lot: str | None
    shipped: int
    received: int
    damaged: int
    lost: int


@dataclass(frozen=True, slots=True)
class TransferChanged(Event):
    """What both transfer events share: the transfer and its two ends."""

    aggregate = "transfer"
    transfer_id: str
    from_location: str = field(metadata={"as": "from"})
    to_location: str = field(metadata={"as": "to"})

    @property
    def key(self) -> str | None:
        return self.transfer_id

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(locations=[self.from_location, self.to_location])


@dataclass(frozen=True, slots=True)
class TransferShipped(TransferChanged):
    """Units left a location for another; they are in transit until received."""

    topic = Topic.TRANSFER_SHIPPED
    expected_on: date
    lines: tuple[TransferLine, ...]


@dataclass(frozen=True, slots=True)
class TransferReceived(TransferChanged):
    """A transfer was booked in at its destination."""

    topic = Topic.TRANSFER_RECEIVED
    lines: tuple[ArrivedLine, ...]


# --- returns ----------------------------------------------------------------------
# Keyed by order: a consumer sees an order's returns in step with its other
# events. The scope names the order's channel and where the units come back.


@dataclass(frozen=True, slots=True)
class ReturnChanged(OrderChanged):
    """An RMA moved on; ``details`` say how (units, disposition...)."""

    topic = Topic.RETURN_AUTHORISED
    rma_id: str = ""
    details: Mapping[str, object] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        details = {str(k): plain(v) for k, v in self.details.items()}
        return {"rma_id": self.rma_id, "order_id": self.order_id, **details}


@dataclass(frozen=True, slots=True)
class ReturnAuthorised(ReturnChanged):
    """Shipped units of an order may come back."""

    topic = Topic.RETURN_AUTHORISED
    version = 2  # 2: no suggested refund (money stays inside)


@dataclass(frozen=True, slots=True)
class ReturnReceived(ReturnChanged):
    """Returned units arrived and wait for inspection."""

    topic = Topic.RETURN_RECEIVED


@dataclass(frozen=True, slots=True)
class ReturnInspected(ReturnChanged):
    """Arrived units were given a disposition."""

    topic = Topic.RETURN_INSPECTED
    version = 2  # 2: the location and lot


@dataclass(frozen=True, slots=True)
class ReturnClosed(ReturnChanged):
    """An RMA is done."""

    topic = Topic.RETURN_CLOSED


@dataclass(frozen=True, slots=True)
class ReturnCancelled(ReturnChanged):
    """An RMA nothing arrived for was called off."""

    topic = Topic.RETURN_CANCELLED
