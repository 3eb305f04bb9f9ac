"""Transfers between locations: their lifecycle, which units leave, and what a receipt means.

A transfer ships free units from one location's storage bins to an
in-transit location and, once received, on to the destination: good units to
its dock, damaged ones to quarantine. What never arrived is written off;
what arrived on top is booked in. Both are discrepancies a person must see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput
from stockflow.stock.rules.quantities import non_negative_quantity, positive_quantity


class TransferStatus(StrEnum):
    """Where a transfer is in its life (created already shipped: there is no draft)."""

    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class TransferEvent(StrEnum):
    """What can happen to a transfer."""

    RECEIVE = "receive"


TRANSITIONS: dict[tuple[TransferStatus, TransferEvent], TransferStatus] = {
    (TransferStatus.IN_TRANSIT, TransferEvent.RECEIVE): TransferStatus.RECEIVED,
}
"""Every legal step; anything else is an ``IllegalTransferStep``."""

_DONE = {TransferEvent.RECEIVE: "received"}


class IllegalTransferStep(Conflict):
    """The transfer cannot go that way from where it is."""

    title = "Illegal transfer step"


def next_transfer_status(current: str, event: TransferEvent, *, transfer_id: str) -> TransferStatus:
    """The status after ``event``, or ``IllegalTransferStep`` naming the transfer."""
    state = TransferStatus(current)
    found = TRANSITIONS.get((state, event))
    if found is None:
        done = _DONE[event]
        if TRANSITIONS.get((TransferStatus.IN_TRANSIT, event)) is state:
            detail = f"transfer {transfer_id} was {done} already; it cannot be {done} twice"
        else:
            detail = f"transfer {transfer_id} is {state.value.replace('_', ' ')}: cannot be {done}"
        raise IllegalTransferStep(detail, field="status")
    return found


@dataclass(frozen=True, slots=True)
class TransferLineIn:
    """``qty`` units of a SKU to send; a lot-tracked SKU without a lot goes first-expiring first."""

    sku: str
    qty: int
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class ShipTransfer:
    """Send free units from one location to another, expected there on ``expected_on``."""

    from_location: str
    to_location: str
    lines: tuple[TransferLineIn, ...]
    expected_on: date
    actor: str = "system"
    idempotency_key: str | None = None

    def checked(self, *, today: date) -> ShipTransfer:
        """This command with its lines checked; nothing here needs the database."""
        if self.from_location == self.to_location:
            raise InvalidInput("a transfer goes to another location", field="to")
        if not self.lines:
            raise InvalidInput("a transfer needs at least one line", field="lines")
        if self.expected_on < today:
            raise InvalidInput(f"{self.expected_on} is in the past", field="expected_on")
        seen: set[tuple[str, str | None]] = set()
        lines = []
        for i, line in enumerate(self.lines):
            if not line.sku:
                raise InvalidInput("is required", field=f"lines[{i}].sku")
            qty = positive_quantity(line.qty, field=f"lines[{i}].qty")
            lot = (line.lot or "").strip() or None
            if (line.sku, lot) in seen:
                raise InvalidInput(
                    f"SKU {line.sku} appears twice; put it on one line", field=f"lines[{i}].sku"
                )
            seen.add((line.sku, lot))
            lines.append(TransferLineIn(line.sku, qty, lot))
        return ShipTransfer(
            self.from_location, self.to_location, tuple(lines), self.expected_on,
            self.actor, self.idempotency_key,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Source:
    """A storage position the transfer may take from, with its free units (locked)."""

    position_id: int
    sku_id: int
    bin_code: str
    bin_sequence: int
    lot: str
    expires_on: date | None
    free: int

    def pick_key(self) -> tuple[bool, date, int, str, int]:
        """First-expiring lot first, then walking order."""
        return (
            self.expires_on is None,
            self.expires_on or date.max,
            self.bin_sequence,
            self.bin_code,
            self.position_id,
        )


@dataclass(frozen=True, slots=True)
class Pick:
    """``qty`` units taken from one source position."""

    source: Source
    qty: int


def usable(sources: Iterable[Source], *, today: date) -> list[Source]:
    """Sources that may leave: free units of lots not expired on ``today``, in pick order."""
    fresh = [s for s in sources if s.free > 0 and (s.expires_on is None or s.expires_on > today)]
    return sorted(fresh, key=Source.pick_key)


def plan_picks(sources: Sequence[Source], qty: int) -> list[Pick]:
    """Take ``qty`` units from ``sources`` in their order; fewer if they hold fewer."""
    picks = []
    left = qty
    for source in sources:
        if left == 0:
            break
        take = min(left, source.free)
        if take > 0:
            picks.append(Pick(source, take))
            left -= take
    return picks


@dataclass(frozen=True, slots=True)
class ReceiveLine:
    """What arrived for one transfer line: every unit, and how many of those are damaged."""

    line_no: int
    received: int
    damaged: int = 0


@dataclass(frozen=True, slots=True)
class ReceiptSplit:
    """Where the units of one received line go."""

    good_from_transit: int  # in transit -> dock
    damaged_from_transit: int  # in transit -> quarantine
    extra_good: int  # arrived on top of what was shipped -> dock
    extra_damaged: int  # arrived on top, damaged -> quarantine
    lost: int  # shipped, never arrived: written off in transit

    @property
    def over(self) -> int:
        """Units that arrived beyond what was shipped."""
        return self.extra_good + self.extra_damaged


def split_receipt(shipped: int, received: int, damaged: int) -> ReceiptSplit:
    """Split a line's arrival between the in-transit units, extra units and units lost.

    Damaged units are taken out of what was shipped only after the good ones:
    the extra units of an over-receipt are booked in as good where they can be.
    """
    good = received - damaged
    good_from_transit = min(good, shipped)
    damaged_from_transit = min(damaged, shipped - good_from_transit)
    return ReceiptSplit(
        good_from_transit=good_from_transit,
        damaged_from_transit=damaged_from_transit,
        extra_good=good - good_from_transit,
        extra_damaged=damaged - damaged_from_transit,
        lost=max(0, shipped - received),
    )


def checked_receipt(
    lines: Sequence[ReceiveLine], line_nos: Iterable[int]
) -> dict[int, ReceiveLine]:
    """Every transfer line exactly once, with whole, consistent quantities; by line number.

    A line left out is refused rather than taken as lost: writing stock off
    must be something the receiver said, not something they forgot.
    """
    wanted = set(line_nos)
    out: dict[int, ReceiveLine] = {}
    for i, line in enumerate(lines):
        if line.line_no not in wanted:
            raise InvalidInput(f"the transfer has no line {line.line_no}", field=f"lines[{i}]")
        if line.line_no in out:
            raise InvalidInput(f"line {line.line_no} appears twice", field=f"lines[{i}].line_no")
        received = non_negative_quantity(line.received, field=f"lines[{i}].received")
        damaged = non_negative_quantity(line.damaged, field=f"lines[{i}].damaged")
        if damaged > received:
            raise InvalidInput(
                f"{damaged} damaged of {received} received: damaged units are part of those "
                "received",
                field=f"lines[{i}].damaged",
            )
        out[line.line_no] = ReceiveLine(line.line_no, received, damaged)
    missing = sorted(wanted - set(out))
    if missing:
        raise InvalidInput(
            f"say what arrived for line(s) {', '.join(map(str, missing))} (0 if nothing)",
            field="lines",
        )
    return out
