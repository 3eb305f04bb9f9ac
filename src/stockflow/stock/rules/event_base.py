"""The shape every event has: topic, version, aggregate, key, scope and payload.

``events`` is the vocabulary itself; this module is what its events are made
of, and the base of the events every order's story shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class Topic(StrEnum):
    """Every topic an event is recorded under; the public ones are the catalogue."""

    # Public: written to the outbox and sent out (docs/events.md).
    STOCK_CHANGED = "stock.changed"
    ORDER_CAPTURED = "order.captured"
    ORDER_ALLOCATED = "order.allocated"
    ORDER_BACKORDERED = "order.backordered"
    ORDER_PROMISED = "order.promised"
    ORDER_RELEASED = "order.released"
    ORDER_REALLOCATED = "order.reallocated"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    EXCEPTION_OPENED = "exception.opened"
    EXCEPTION_ACKNOWLEDGED = "exception.acknowledged"
    EXCEPTION_RESOLVED = "exception.resolved"
    RECEIPT_POSTED = "receipt.posted"
    COUNT_VARIANCE = "count.variance"
    TRANSFER_SHIPPED = "transfer.shipped"
    TRANSFER_RECEIVED = "transfer.received"
    RETURN_AUTHORISED = "return.authorised"
    RETURN_RECEIVED = "return.received"
    RETURN_INSPECTED = "return.inspected"
    RETURN_CLOSED = "return.closed"
    RETURN_CANCELLED = "return.cancelled"
    # Internal: only reactions inside stockflow follow them.
    STOCK_FREED = "stock.freed"
    STOCK_TAKEN_BACK = "stock.taken_back"
    ALLOCATIONS_CARRIED = "allocations.carried"
    SUPPLY_CHANGED = "supply.changed"


HIDDEN: Mapping[str, object] = {"as": None}
"""Field metadata: kept for reactions or for the scope, never in the payload."""


def sku_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """SKU codes with repeats dropped, in code order."""
    return tuple(sorted(set(codes)))


def named_scope(
    *, locations: Iterable[str] = (), channels: Iterable[str] = (), suppliers: Iterable[str] = ()
) -> dict[str, list[str]]:
    """A scope naming these codes (each side sorted, blanks dropped, empty sides left out)."""
    sides = {"locations": locations, "channels": channels, "suppliers": suppliers}
    named = {side: sorted({c for c in codes if c}) for side, codes in sides.items()}
    return {side: codes for side, codes in named.items() if codes}


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
        """The event as JSON-ready data (hidden fields left out, some renamed)."""
        return payload_of(self)


def payload_of(item: object) -> dict[str, object]:
    """A dataclass's fields as JSON-ready data: hidden ones left out, renamed ones renamed."""
    return {out: plain(getattr(item, name)) for name, out in _shape(type(item))}


_SHAPES: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _shape(kind: type[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, name in the payload) of a dataclass's told fields: read once per class.

    Capture writes several events per order in its hot batch; reading the
    fields' metadata again for each would cost more than the rest of the row.
    """
    found = _SHAPES.get(kind)
    if found is None:
        told = ((f.name, f.metadata.get("as", f.name)) for f in fields(kind))
        found = _SHAPES[kind] = tuple((name, out) for name, out in told if out is not None)
    return found


def plain(value: object) -> object:
    """``value`` as JSON-ready data: lists, dicts, ISO dates and UTC times, dataclasses' fields."""
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, datetime):  # in UTC, as the envelope's timestamp
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return payload_of(value)
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


# --- orders -------------------------------------------------------------------------
# An order's events are keyed by the order. Their scope names its channel and the
# locations where it holds or held stock or shipped from (``sites``), so that a
# partner limited to channels or to sites hears of the orders it sees.


@dataclass(frozen=True, slots=True)
class OrderChanged(Event):
    """What every order event shares: the order, its channel and its sites."""

    aggregate = "order"
    order_id: str
    channel: str = field(default="", kw_only=True, metadata=HIDDEN)
    sites: tuple[str, ...] = field(default=(), kw_only=True, metadata=HIDDEN)

    @property
    def key(self) -> str | None:
        return self.order_id

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return named_scope(channels=[self.channel], locations=self.sites)
