"""Putaway and quarantine decisions: where received units go next, as rules and commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from stockflow.errors import Conflict, InvalidInput
from stockflow.stock.rules.quantities import positive_quantity


class NoPutawayRoom(Conflict):
    """No storage bin that the rules allow has room for the units."""

    title = "No room to put away"


@dataclass(frozen=True, slots=True)
class BinRoom:
    """A storage bin as putaway sees it: where it is on the walk and how full it is."""

    id: int
    code: str
    zone: str | None
    sequence: int
    capacity: int | None  # None: no limit
    used: int  # units of every SKU in the bin now
    holds_sku: bool  # the SKU being put away is already there

    def room(self) -> int | None:
        """Units that still fit; None when the bin has no limit."""
        return None if self.capacity is None else self.capacity - self.used

    def fits(self, qty: int) -> bool:
        """Whether ``qty`` more units fit."""
        room = self.room()
        return room is None or room >= qty


@dataclass(frozen=True, slots=True)
class PutawaySuggestion:
    """The bin to put units in, and why that one."""

    bin_id: int
    bin: str
    reason: str


def choose_bin(bins: Sequence[BinRoom], *, home_bin_id: int | None, qty: int) -> PutawaySuggestion:
    """The SKU's home bin if it fits; else a bin with room in the home bin's zone (any zone
    without a home bin), preferring bins already holding the SKU, then the lowest sequence.
    """
    home = next((b for b in bins if b.id == home_bin_id), None)
    if home is not None and home.fits(qty):
        return PutawaySuggestion(home.id, home.code, f"home bin of the SKU ({_room(home)})")
    pool = [b for b in bins if home is None or (b.zone == home.zone and b.id != home.id)]
    fitting = [b for b in pool if b.fits(qty)]
    if not fitting:
        where = f"zone {home.zone or '(none)'}" if home is not None else "this location"
        raise NoPutawayRoom(f"no storage bin in {where} has room for {qty} more units", field="qty")
    best = min(fitting, key=lambda b: (not b.holds_sku, b.sequence, b.code))
    why = "already holds the SKU" if best.holds_sku else "first on the walk with room"
    if home is not None:
        lead = f"home bin {home.code} is full ({_room(home)}); same zone {home.zone or '(none)'}"
    else:
        lead = "no home bin"
    return PutawaySuggestion(best.id, best.code, f"{lead}; {why} ({_room(best)})")


def _room(b: BinRoom) -> str:
    room = b.room()
    return "no capacity limit" if room is None else f"room for {max(room, 0)}"


@dataclass(frozen=True, slots=True)
class ConfirmPutaway:
    """Units scanned into ``to_bin``; they come from ``from_bin`` (default: the dock)."""

    location: str
    sku: str
    qty: int
    to_bin: str
    lot: str | None = None
    from_bin: str | None = None
    actor: str = "system"
    idempotency_key: str | None = None

    def checked(self) -> ConfirmPutaway:
        """This putaway with its fields checked and trimmed."""
        positive_quantity(self.qty, field="qty")
        to_bin = (self.to_bin or "").strip()
        if not to_bin:
            raise InvalidInput("scan the bin the units went into", field="to_bin")
        return replace(
            self,
            to_bin=to_bin,
            lot=(self.lot or "").strip() or None,
            from_bin=(self.from_bin or "").strip() or None,
        )


@dataclass(frozen=True, slots=True)
class QuarantineDecision:
    """Release quarantined units to a storage bin (``to_bin``) or scrap them (no ``to_bin``)."""

    location: str
    sku: str
    qty: int
    note: str
    lot: str | None = None
    to_bin: str | None = None
    from_bin: str | None = None  # default: the location's quarantine bin
    actor: str = "system"
    idempotency_key: str | None = None

    def checked(self, *, release: bool) -> QuarantineDecision:
        """This decision checked: a note always (it is audited), a bin when releasing."""
        positive_quantity(self.qty, field="qty")
        note = (self.note or "").strip()
        if not note:
            what = "release" if release else "scrap"
            raise InvalidInput(f"say why the units may {what}", field="note")
        to_bin = (self.to_bin or "").strip() or None
        if release and to_bin is None:
            raise InvalidInput("say which storage bin the units go to", field="to_bin")
        if not release and to_bin is not None:
            raise InvalidInput("scrapped units go nowhere: leave to_bin out", field="to_bin")
        return replace(
            self,
            note=note,
            to_bin=to_bin,
            lot=(self.lot or "").strip() or None,
            from_bin=(self.from_bin or "").strip() or None,
        )
