"""Purchasing: suppliers, purchase orders, ASNs and receipts, and the rules that need no database.

A purchase order's life is one transition table with one guard
(``next_po_status``). What a receipt found against what was expected (over,
short, damaged) is judged here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput, NotFound
from stockflow.stock.rules.catalogue import checked_code
from stockflow.stock.rules.quantities import non_negative_quantity, positive_quantity


class POStatus(StrEnum):
    """Where a purchase order is in its life."""

    OPEN = "open"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class POEvent(StrEnum):
    """What can happen to a purchase order."""

    RECEIVE_PART = "receive_part"  # some units of some line are still to come
    RECEIVE_ALL = "receive_all"  # every line has had at least what was ordered
    CLOSE = "close"
    CANCEL = "cancel"


S, E = POStatus, POEvent

TRANSITIONS: dict[tuple[POStatus, POEvent], POStatus] = {
    (S.OPEN, E.RECEIVE_PART): S.PARTIALLY_RECEIVED,
    (S.OPEN, E.RECEIVE_ALL): S.RECEIVED,
    (S.PARTIALLY_RECEIVED, E.RECEIVE_PART): S.PARTIALLY_RECEIVED,
    (S.PARTIALLY_RECEIVED, E.RECEIVE_ALL): S.RECEIVED,
    # Over-receipts are recorded, not refused: more may still turn up after the last unit.
    (S.RECEIVED, E.RECEIVE_ALL): S.RECEIVED,
    (S.RECEIVED, E.CLOSE): S.CLOSED,
    (S.OPEN, E.CLOSE): S.CLOSED,
    (S.PARTIALLY_RECEIVED, E.CLOSE): S.CLOSED,
    (S.OPEN, E.CANCEL): S.CANCELLED,
    (S.PARTIALLY_RECEIVED, E.CANCEL): S.CANCELLED,
}
"""Every legal step; anything else is an ``IllegalPOTransition``."""

STOPPED_STATES = frozenset({S.CLOSED, S.CANCELLED})
"""Purchase orders that bring nothing more: their outstanding units are not supply."""


class IllegalPOTransition(Conflict):
    """The purchase order cannot go that way from where it is."""

    title = "Illegal purchase order transition"


class UnknownSupplier(NotFound):
    """No supplier has that code."""

    title = "Unknown supplier"


class UnknownPurchaseOrder(NotFound):
    """No purchase order has that id."""

    title = "Unknown purchase order"


class UnknownAsn(NotFound):
    """No advance shipping notice has that id."""

    title = "Unknown ASN"


class UnknownReceipt(NotFound):
    """No receipt has that id."""

    title = "Unknown receipt"


def next_po_status(current: str, event: POEvent) -> POStatus:
    """The status after ``event``, or ``IllegalPOTransition``."""
    state = POStatus(current)
    found = TRANSITIONS.get((state, event))
    if found is None:
        where, what = state.value.replace("_", " "), event.value.replace("_", " ")
        raise IllegalPOTransition(f"a purchase order that is {where} cannot {what}", field="status")
    return found


def outstanding(qty: int, received: int) -> int:
    """Units of a PO line still to come; an over-receipt leaves none, never fewer."""
    return max(qty - received, 0)


def receipt_event(lines: Iterable[tuple[int, int]]) -> POEvent:
    """The event a receipt is, given each line's (ordered, received so far) after it."""
    done = all(received >= qty for qty, received in lines)
    return POEvent.RECEIVE_ALL if done else POEvent.RECEIVE_PART


def expected_arrival(today: date, lead_time_days: int) -> date:
    """When an order placed today arrives, by the supplier's lead time."""
    return today + timedelta(days=lead_time_days)


# --- commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSupplier:
    """A supplier with the days it takes from order to arrival."""

    code: str
    name: str
    lead_time_days: int = 7
    email: str | None = None

    def checked(self) -> NewSupplier:
        """This supplier with its fields checked and trimmed."""
        code = checked_code(self.code, field="code", max_length=32)
        name = (self.name or "").strip() or code
        days = non_negative_quantity(self.lead_time_days, field="lead_time_days")
        if days > 3650:
            raise InvalidInput("must be at most 3650 days", field="lead_time_days")
        email = (self.email or "").strip() or None
        if email is not None and ("@" not in email or len(email) > 200):
            raise InvalidInput(f"{email!r} is not an email address", field="email")
        return NewSupplier(code, name[:200], days, email)


@dataclass(frozen=True, slots=True)
class POLineIn:
    """One line of a purchase order: units of a SKU at a unit cost."""

    sku: str
    qty: int
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class NewPurchaseOrder:
    """A purchase order to place; ``expected_on`` defaults to today + the supplier's lead time."""

    supplier: str
    location: str
    lines: tuple[POLineIn, ...]
    expected_on: date | None = None
    reference: str | None = None
    idempotency_key: str | None = None

    def checked(self, *, today: date) -> NewPurchaseOrder:
        """This order with every line checked; errors name ``lines[i].field``."""
        if not self.lines:
            raise InvalidInput("a purchase order needs at least one line", field="lines")
        for i, line in enumerate(self.lines):
            if not (line.sku or "").strip():
                raise InvalidInput("is required", field=f"lines[{i}].sku")
            positive_quantity(line.qty, field=f"lines[{i}].qty")
            if not isinstance(line.unit_cost, Decimal) or not line.unit_cost.is_finite():
                raise InvalidInput("must be an amount like 12.50", field=f"lines[{i}].unit_cost")
            if line.unit_cost < 0:
                raise InvalidInput("must not be negative", field=f"lines[{i}].unit_cost")
        if self.expected_on is not None and self.expected_on < today:
            raise InvalidInput(
                f"{self.expected_on} is in the past; supply is expected today or later",
                field="expected_on",
            )
        reference = (self.reference or "").strip() or None
        if reference is not None and len(reference) > 128:
            raise InvalidInput("is longer than 128 characters", field="reference")
        lines = tuple(replace(ln, sku=ln.sku.strip()) for ln in self.lines)
        return replace(self, lines=lines, reference=reference)


@dataclass(frozen=True, slots=True)
class AsnLineIn:
    """Units of one PO line a supplier says are on their way, optionally of one lot."""

    po_line_no: int
    qty: int
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class NewAsn:
    """An advance shipping notice: what a delivery against a PO will hold."""

    po_id: str
    lines: tuple[AsnLineIn, ...]
    expected_on: date | None = None  # default: the PO's expected date
    reference: str | None = None
    idempotency_key: str | None = None

    def checked(self) -> NewAsn:
        """This notice with every line checked."""
        if not self.lines:
            raise InvalidInput("an ASN needs at least one line", field="lines")
        for i, line in enumerate(self.lines):
            positive_quantity(line.po_line_no, field=f"lines[{i}].po_line_no")
            positive_quantity(line.qty, field=f"lines[{i}].qty")
        lines = tuple(replace(ln, lot=(ln.lot or "").strip() or None) for ln in self.lines)
        reference = (self.reference or "").strip() or None
        return replace(self, lines=lines, reference=reference)


@dataclass(frozen=True, slots=True)
class ReceiptLineIn:
    """What arrived of one SKU (and lot): every unit, and how many of those are damaged."""

    sku: str
    received_qty: int
    damaged_qty: int = 0
    lot: str | None = None
    expires_on: date | None = None
    po_line_no: int | None = None  # which PO line; found by SKU when the PO has it once


@dataclass(frozen=True, slots=True)
class Receive:
    """Book a delivery in: against a PO, against an ASN, or blind (then ``location`` says where)."""

    lines: tuple[ReceiptLineIn, ...]
    po_id: str | None = None
    asn_id: str | None = None
    location: str | None = None
    note: str | None = None
    actor: str = "system"
    idempotency_key: str | None = None

    @property
    def blind(self) -> bool:
        """Received with no document to compare against."""
        return self.po_id is None and self.asn_id is None

    def checked(self) -> Receive:
        """This receipt with every line checked; errors name ``lines[i].field``."""
        if not self.lines:
            raise InvalidInput("a receipt needs at least one line", field="lines")
        if self.blind and not (self.location or "").strip():
            raise InvalidInput("a receipt without a PO or ASN must say where", field="location")
        lines = tuple(self._line(i, ln) for i, ln in enumerate(self.lines))
        if sum(ln.received_qty for ln in lines) == 0:
            raise InvalidInput("nothing was received: at least one unit", field="lines")
        return replace(self, lines=lines, note=(self.note or "").strip() or None)

    def _line(self, i: int, line: ReceiptLineIn) -> ReceiptLineIn:
        if not (line.sku or "").strip():
            raise InvalidInput("is required", field=f"lines[{i}].sku")
        received = non_negative_quantity(line.received_qty, field=f"lines[{i}].received_qty")
        if self.blind and received == 0:
            raise InvalidInput(
                "must be greater than 0 on a blind receipt", field=f"lines[{i}].received_qty"
            )
        damaged = non_negative_quantity(line.damaged_qty, field=f"lines[{i}].damaged_qty")
        if damaged > received:
            raise InvalidInput(
                f"{damaged} damaged is more than the {received} received",
                field=f"lines[{i}].damaged_qty",
            )
        if line.po_line_no is not None:
            if self.blind:
                raise InvalidInput(
                    "a blind receipt has no PO lines", field=f"lines[{i}].po_line_no"
                )
            positive_quantity(line.po_line_no, field=f"lines[{i}].po_line_no")
        return replace(line, sku=line.sku.strip(), lot=(line.lot or "").strip() or None)


# --- what a receipt found ----------------------------------------------------------------


class DiscrepancyKind(StrEnum):
    """How a delivery differs from what was expected."""

    OVER = "over"
    SHORT = "short"
    DAMAGED = "damaged"


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One difference between a delivery and its document, in units."""

    kind: DiscrepancyKind
    qty: int


def discrepancies(*, expected: int | None, received: int, damaged: int) -> list[Discrepancy]:
    """Over, short and damaged units of one expected line; ``expected`` None means blind."""
    found = []
    if expected is not None and received > expected:
        found.append(Discrepancy(DiscrepancyKind.OVER, received - expected))
    if expected is not None and received < expected:
        found.append(Discrepancy(DiscrepancyKind.SHORT, expected - received))
    if damaged > 0:
        found.append(Discrepancy(DiscrepancyKind.DAMAGED, damaged))
    return found


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one group of receipt lines was compared against, and what arrived."""

    sku: str
    against: str  # "PO PO-1 line 2", "ASN ASN-1 (PO PO-1 line 2)", "" for a blind receipt
    expected: int | None
    received: int
    damaged: int
    quarantine: str = "quarantine"  # where damaged units were put

    def messages(self, receipt_id: str) -> list[tuple[Discrepancy, str]]:
        """Each discrepancy with the message the exceptions queue shows for it."""
        out = []
        for d in discrepancies(
            expected=self.expected, received=self.received, damaged=self.damaged
        ):
            if d.kind is DiscrepancyKind.DAMAGED:
                text = (
                    f"{d.qty} of {self.received} units of SKU {self.sku} arrived damaged;"
                    f" held in {self.quarantine}"
                )
            elif self.expected == 0:
                text = f"{d.qty} units of SKU {self.sku} arrived unannounced: not on {self.against}"
            else:
                text = (
                    f"SKU {self.sku} {d.kind.value} by {d.qty} against {self.against}"
                    f" (expected {self.expected}, received {self.received})"
                )
            out.append((d, f"Receipt {receipt_id}: {text}"))
        return out
