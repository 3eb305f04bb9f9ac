"""Returns (RMAs): their lifecycle, inspection dispositions and the refund they suggest.

An RMA authorises units of shipped order lines to come back. They arrive into
the location's returns bin (on hand, not available), and each unit is then
inspected and given a disposition: back on the shelf, off to repair or
quarantine, or written off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput


class ReturnStatus(StrEnum):
    """Where an RMA is in its life."""

    AUTHORISED = "authorised"  # the customer may send the units back
    RECEIVED = "received"  # units have arrived; inspection may start
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ReturnEvent(StrEnum):
    """What can happen to an RMA."""

    RECEIVE = "receive"
    INSPECT = "inspect"
    CLOSE = "close"
    CANCEL = "cancel"


R, V = ReturnStatus, ReturnEvent

RETURN_TRANSITIONS: dict[tuple[ReturnStatus, ReturnEvent], ReturnStatus] = {
    (R.AUTHORISED, V.RECEIVE): R.RECEIVED,
    (R.AUTHORISED, V.CANCEL): R.CANCELLED,
    # Parcels of one RMA may come in one by one, and each is inspected as it comes.
    (R.RECEIVED, V.RECEIVE): R.RECEIVED,
    (R.RECEIVED, V.INSPECT): R.RECEIVED,
    (R.RECEIVED, V.CLOSE): R.CLOSED,
}
"""Every legal step; anything else is ``IllegalReturnStep``."""


class IllegalReturnStep(Conflict):
    """The RMA cannot go that way from where it is."""

    title = "Illegal return step"


def return_status(name: str, *, field: str = "status") -> ReturnStatus:
    """The status called ``name``, or ``InvalidInput`` listing the choices."""
    try:
        return ReturnStatus(name)
    except ValueError:
        choices = ", ".join(s.value for s in ReturnStatus)
        raise InvalidInput(
            f"unknown RMA status {name!r}; use one of: {choices}", field=field
        ) from None


def next_return_status(current: str, event: ReturnEvent) -> ReturnStatus:
    """The status after ``event``, or ``IllegalReturnStep`` saying what may happen instead."""
    state = ReturnStatus(current)
    found = RETURN_TRANSITIONS.get((state, event))
    if found is None:
        options = sorted(e.value for (start, e) in RETURN_TRANSITIONS if start is state)
        can = ", ".join(options) if options else "nothing, it is final"
        raise IllegalReturnStep(
            f"an RMA that is {state.value} cannot {event.value}; it can: {can}", field="status"
        )
    return found


class Disposition(StrEnum):
    """What inspection decides for a returned unit."""

    RESTOCK = "restock"  # as good as new: back on the shelf, available again
    REPAIR = "repair"  # to quarantine until repaired
    QUARANTINE = "quarantine"  # held for quality review, not available
    SCRAP = "scrap"  # written off


def disposition(name: str, *, field: str = "disposition") -> Disposition:
    """The disposition called ``name``, or ``InvalidInput`` listing the choices."""
    try:
        return Disposition(name.strip().lower())
    except ValueError:
        choices = ", ".join(d.value for d in Disposition)
        raise InvalidInput(
            f"unknown disposition {name!r}; use one of: {choices}", field=field
        ) from None


class ReturnTooLarge(Conflict):
    """More units than may still come back (or still wait for inspection)."""

    title = "Return too large"

    def __init__(self, detail: str, *, allowed: int, field: str) -> None:
        super().__init__(detail, field=field)
        self.allowed = allowed

    def extra(self) -> dict[str, object]:
        return {"allowed": self.allowed}


@dataclass(frozen=True, slots=True)
class LinePart:
    """One stocked SKU of an order line: units per line unit, shipped, already authorised.

    A plain line has one part (itself, one per unit); a kit line has one per component.
    """

    per_unit: int
    shipped: int
    authorised: int


def returnable_units(parts: Mapping[int, LinePart]) -> int:
    """Whole line units that may still be authorised: the scarcest part decides."""
    if not parts:
        return 0
    return max(0, min((p.shipped - p.authorised) // p.per_unit for p in parts.values()))


CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RefundLine:
    """Units of an order line coming back, with the price it sold at and the list price."""

    qty: int
    unit_price: Decimal | None
    list_price: Decimal | None


def suggest_refund(lines: Iterable[RefundLine]) -> Decimal:
    """What to refund: each line's sold price (else list price) x units, to the cent.

    A line with neither price suggests nothing for it: someone must look, not guess.
    Rounded once, on the total, half up as a till does.
    """
    total = Decimal(0)
    for line in lines:
        price = line.unit_price if line.unit_price is not None else line.list_price
        if price is not None:
            total += price * line.qty
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LineProgress:
    """One RMA line's counts: authorised, arrived, inspected."""

    qty: int
    received: int
    inspected: int


def fully_dealt_with(lines: Iterable[LineProgress]) -> bool:
    """Everything authorised has arrived and every arrived unit is inspected."""
    return all(ln.received == ln.qty and ln.inspected == ln.received for ln in lines)


def uninspected(lines: Iterable[LineProgress]) -> int:
    """Units that arrived and still wait for a disposition."""
    return sum(ln.received - ln.inspected for ln in lines)


# --- commands -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReturnLineIn:
    """``qty`` units of order line ``line_no`` (a kit line counts whole kits)."""

    line_no: int
    qty: int


@dataclass(frozen=True, slots=True)
class AuthoriseReturn:
    """Let a customer send shipped units back; ``location`` defaults to where they shipped from."""

    order_id: str
    lines: tuple[ReturnLineIn, ...]
    reason: str
    location: str | None = None
    idempotency_key: str | None = None
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class ReceiveLineIn:
    """``qty`` units of RMA line ``line_no`` arrived; a lot-tracked SKU says which lot."""

    line_no: int
    qty: int
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveReturn:
    """Units of an RMA that arrived at its location."""

    rma_id: str
    lines: tuple[ReceiveLineIn, ...]
    idempotency_key: str | None = None
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class InspectReturn:
    """The disposition of ``qty`` arrived units of one RMA line."""

    rma_id: str
    line_no: int
    disposition: str
    qty: int
    note: str | None = None
    lot: str | None = None
    idempotency_key: str | None = None
    actor: str = "system"
