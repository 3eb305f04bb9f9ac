"""Commands: what a caller asks stockflow to do, as plain immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Place:
    """One end of a move: a location, optionally a bin (default bin otherwise) and a lot."""

    location: str
    bin: str | None = None
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class PostMove:
    """Move ``qty`` units of a SKU from one place to another (either may be the outside world)."""

    sku: str
    qty: int
    reason: str
    source: Place | None = None
    target: Place | None = None
    actor: str = "system"
    reference: str | None = None
    note: str | None = None
    lot_expires_on: date | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ReserveLine:
    """``qty`` units of a SKU, optionally only from one location or one lot."""

    sku: str
    qty: int
    location: str | None = None
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class Reserve:
    """Reserve every line or none of them, for ``owner_ref`` (an order line, a cart)."""

    lines: tuple[ReserveLine, ...]
    owner_ref: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CloseLines:
    """Release or consume part of a reservation: units per SKU; empty means all that is open."""

    reservation_id: str
    qty_by_sku: dict[str, int] = field(default_factory=dict)
    actor: str = "system"
    reference: str | None = None
    line_no: int | None = None  # only this line's allocations


@dataclass(frozen=True, slots=True)
class OrderLineIn:
    """One line of an incoming order."""

    sku: str
    qty: int
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CaptureOrder:
    """An order as it arrives from a channel."""

    channel: str
    lines: tuple[OrderLineIn, ...]
    ship_to: str | None
    external_id: str | None = None
    customer: str | None = None
    ship_to_latitude: Decimal | None = None
    ship_to_longitude: Decimal | None = None
    idempotency_key: str | None = None
    actor: str = "system"
