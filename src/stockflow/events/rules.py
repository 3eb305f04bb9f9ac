"""The pure rules of events out: subscription and delivery lifecycles."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from stockflow.stock.rules.access import Action, Permission, Principal, Resource


class SubscriptionStatus(StrEnum):
    """Whether a webhook subscription receives events."""

    ACTIVE = "active"
    PAUSED = "paused"  # by its owner: deliveries wait, nothing is lost
    DISABLED = "disabled"  # the receiver answered 410 Gone, or an administrator stopped it


class DeliveryStatus(StrEnum):
    """Where one event's delivery to one subscription stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # every try failed: in the dead letters, until redelivered by hand
    CANCELLED = "cancelled"  # its subscription was disabled before it went


# --- what leaves stockflow ------------------------------------------------------------

# Which permission reading an event needs, by the first word of its topic: any one of them.
# A receipt is also part of its purchase order's story, which its supplier may read.
_RESOURCES_OF = {
    "stock": (Resource.STOCK,),
    "order": (Resource.ORDERS,),
    "exception": (Resource.EXCEPTIONS,),
    "receipt": (Resource.RECEIVING, Resource.PURCHASING),
    "purchase_order": (Resource.PURCHASING,),
    "count": (Resource.COUNTS,),
    "transfer": (Resource.TRANSFERS,),
    "return": (Resource.RETURNS,),
    "replenishment": (Resource.PURCHASING,),
}
_SCOPE_SIDES = ("locations", "channels", "suppliers")


def resources_of(topic: str) -> tuple[Resource, ...]:
    """The resources whose read permission (any one) an event of ``topic`` needs."""
    return _RESOURCES_OF.get(topic.split(".", 1)[0], ())


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event in the stream, as every way out (webhook, live stream, broker) carries it."""

    id: int  # the outbox id: the de-duplication key everywhere
    topic: str
    version: int
    sequence: int  # its place in the stream, in commit order
    aggregate: str | None
    key: str | None
    aggregate_sequence: int | None  # 1, 2, 3... per aggregate
    created_at: datetime
    payload: Mapping[str, object]
    scope: Mapping[str, Sequence[str]] | None = None  # never sent: who may be told

    def document(self) -> dict[str, object]:
        """The JSON document sent out."""
        aggregate = None
        if self.aggregate is not None:
            aggregate = {
                "type": self.aggregate,
                "id": self.key,
                "sequence": self.aggregate_sequence,
            }
        return {
            "id": self.id,
            "type": self.topic,
            "version": self.version,
            "sequence": self.sequence,
            "timestamp": self.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "aggregate": aggregate,
            "data": dict(self.payload),
        }

    def body(self) -> bytes:
        """The document as compact JSON bytes (what a signature covers)."""
        return json.dumps(self.document(), separators=(",", ":"), default=str).encode()


def visible_to(principal: Principal, envelope: Envelope) -> bool:
    """Whether ``principal`` may be told of the event: its role reads it, its scope covers it.

    A caller limited on a side (locations, channels, suppliers) hears of an event
    only when the event names one of its codes on that side: an event that names
    none (or another partner's) is not for it.
    """
    readable = resources_of(envelope.topic)
    if not any(principal.may(Permission(r, Action.READ)) for r in readable):
        return False
    scope = principal.scope
    if scope.unlimited:
        return True
    named = envelope.scope or {}
    for side in _SCOPE_SIDES:
        allowed: frozenset[str] | None = getattr(scope, side)
        if allowed is not None and not allowed.intersection(named.get(side, ())):
            return False
    return True


def matches(patterns: Iterable[str], topic: str) -> bool:
    """Whether ``topic`` is one of ``patterns``: a topic, ``"order.*"`` or ``"*"``."""
    for pattern in patterns:
        if pattern in ("*", topic):
            return True
        if pattern.endswith(".*") and topic.startswith(pattern[:-1]):
            return True
    return False
