"""Cycle counts: what to count, when a variance needs a second person, and how good the books are.

- ABC classes rank SKUs by the value that moved out of a location (units
  shipped or sent away x unit price): A holds the top ~80 % of that value,
  B the next ~15 %, C the rest (and everything that did not move, or has no
  price).
- A variance is within tolerance when ``|counted - expected| <= expected x
  tolerance % / 100``. Tolerance is relative to the books, so where the books
  say 0 any unit found is outside every tolerance, even 100 %: stock in a
  place the books call empty (wrong bin, goods never received) is exactly
  what a person must look at.
- A count and each of its lines follow explicit transition tables; a step
  that is not in them raises ``IllegalCountStep``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from stockflow.errors import Conflict, InvalidInput
from stockflow.stock.rules.moves import Reason

# --- ABC classes -------------------------------------------------------------------------


class AbcClass(StrEnum):
    """How much of a location's moved value a SKU accounts for."""

    A = "A"
    B = "B"
    C = "C"


A_SHARE = Decimal("0.80")
B_SHARE = Decimal("0.15")
USAGE_REASONS = frozenset({Reason.SHIP, Reason.TRANSFER_OUT})
"""Moves that take stock out of a location for good: what 'value moved' counts.

Internal moves (put-away, pick to staging) are left out: a unit picked and
then shipped would otherwise count twice.
"""


def classify_abc(
    values: Mapping[int, Decimal], *, a_share: Decimal = A_SHARE, b_share: Decimal = B_SHARE
) -> dict[int, AbcClass]:
    """ABC class per key (a SKU id), from the value each moved.

    Keys are ranked by value (highest first, ties by key); a key is A while the
    value ranked above it is still under ``a_share`` of the total, so the SKU
    that crosses the line is A too. Zero or negative values are always C.
    """
    total = sum((v for v in values.values() if v > 0), Decimal(0))
    out: dict[int, AbcClass] = {}
    above = Decimal(0)
    for key, value in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        if value <= 0 or total == 0:
            out[key] = AbcClass.C
            continue
        share = above / total
        if share < a_share:
            out[key] = AbcClass.A
        elif share < a_share + b_share:
            out[key] = AbcClass.B
        else:
            out[key] = AbcClass.C
        above += value
    return out


# --- scope -------------------------------------------------------------------------------


class ScopeKind(StrEnum):
    """How a count chooses its bins."""

    LOCATION = "location"  # every storage bin of the location: a wall-to-wall count
    ZONE = "zone"  # every storage bin of one zone
    BINS = "bins"  # the bins named
    ABC = "abc"  # storage bins holding SKUs of one ABC class
    SHORT_PICKS = "short_picks"  # bins with a short pick since they were last counted


MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class CountScope:
    """Which bins of a location a count covers."""

    kind: str
    zone: str | None = None
    bins: tuple[str, ...] = ()
    abc_class: str | None = None
    days: int = 90  # the ABC history, in days

    def checked(self) -> CountScope:
        """This scope with the fields its kind needs, and no others."""
        try:
            kind = ScopeKind(self.kind)
        except ValueError:
            choices = ", ".join(k.value for k in ScopeKind)
            raise InvalidInput(f"use one of: {choices}", field="scope.kind") from None
        if kind is ScopeKind.ZONE and not (self.zone or "").strip():
            raise InvalidInput("say which zone", field="scope.zone")
        if kind is ScopeKind.BINS and not self.bins:
            raise InvalidInput("name at least one bin", field="scope.bins")
        if kind is ScopeKind.BINS and len(set(self.bins)) != len(self.bins):
            raise InvalidInput("a bin is named twice", field="scope.bins")
        if kind is ScopeKind.ABC:
            if self.abc_class not in {c.value for c in AbcClass}:
                raise InvalidInput("use A, B or C", field="scope.abc_class")
            if isinstance(self.days, bool) or not isinstance(self.days, int):
                raise InvalidInput("must be a whole number of days", field="scope.days")
            if not 1 <= self.days <= MAX_DAYS:
                raise InvalidInput(f"must be between 1 and {MAX_DAYS}", field="scope.days")
        zone = (self.zone or "").strip() or None
        return CountScope(kind.value, zone, tuple(self.bins), self.abc_class, self.days)

    def describe(self) -> str:
        """The scope in at most 64 characters, as the count records it."""
        kind = ScopeKind(self.kind)
        if kind is ScopeKind.ZONE:
            return f"zone:{self.zone}"[:64]
        if kind is ScopeKind.ABC:
            return f"abc:{self.abc_class}/{self.days}d"
        if kind in (ScopeKind.SHORT_PICKS, ScopeKind.LOCATION):
            return kind.value
        text = "bins:" + ",".join(self.bins)
        if len(text) <= 64:
            return text
        shown = text[:48].rsplit(",", 1)[0]
        return f"{shown}+{len(self.bins) - shown.count(',') - 1} more"


# --- tolerance ---------------------------------------------------------------------------


def checked_tolerance(value: object) -> Decimal:
    """A tolerance in percent: a number from 0 to 100 with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidInput(f"must be a number of percent, got {value!r}", field="tolerance_pct")
    try:
        pct = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{value!r} is not a number", field="tolerance_pct") from None
    if not pct.is_finite() or not 0 <= pct <= 100:
        raise InvalidInput("must be between 0 and 100", field="tolerance_pct")
    if pct != pct.quantize(Decimal("0.01")):
        raise InvalidInput("at most two decimals", field="tolerance_pct")
    return pct


def within_tolerance(expected: int, counted: int, tolerance_pct: Decimal) -> bool:
    """Whether a count is close enough to the books to be corrected without a second person."""
    return abs(counted - expected) * 100 <= expected * tolerance_pct


# --- lifecycles --------------------------------------------------------------------------


class IllegalCountStep(Conflict):
    """The count (or one of its lines) cannot go that way from where it is."""

    title = "Illegal count step"


class CountStatus(StrEnum):
    """Where a count is: lines to count, variances to decide, done, or called off."""

    OPEN = "open"
    PENDING_APPROVAL = "pending_approval"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CountEvent(StrEnum):
    """What can happen to a count."""

    AWAIT_APPROVAL = "await_approval"  # every line counted, some variances wait
    CLOSE = "close"  # every line decided
    CANCEL = "cancel"


COUNT_TRANSITIONS: dict[tuple[CountStatus, CountEvent], CountStatus] = {
    (CountStatus.OPEN, CountEvent.AWAIT_APPROVAL): CountStatus.PENDING_APPROVAL,
    (CountStatus.OPEN, CountEvent.CLOSE): CountStatus.CLOSED,
    (CountStatus.PENDING_APPROVAL, CountEvent.CLOSE): CountStatus.CLOSED,
    (CountStatus.OPEN, CountEvent.CANCEL): CountStatus.CANCELLED,
}
"""Every legal step of a count."""


class LineStatus(StrEnum):
    """Where one count line (a SKU and lot in a bin) is."""

    OPEN = "open"  # not counted yet
    COUNTED = "counted"  # counted, the books were right
    ADJUSTED = "adjusted"  # within tolerance: corrected at once
    PENDING_APPROVAL = "pending_approval"  # outside tolerance: waits for a second person
    APPROVED = "approved"  # the variance was posted
    REJECTED = "rejected"  # the books were kept; recount with a new count


class LineEvent(StrEnum):
    """What can happen to a count line."""

    MATCH = "match"
    ADJUST = "adjust"
    HOLD = "hold"
    APPROVE = "approve"
    REJECT = "reject"


LINE_TRANSITIONS: dict[tuple[LineStatus, LineEvent], LineStatus] = {
    (LineStatus.OPEN, LineEvent.MATCH): LineStatus.COUNTED,
    (LineStatus.OPEN, LineEvent.ADJUST): LineStatus.ADJUSTED,
    (LineStatus.OPEN, LineEvent.HOLD): LineStatus.PENDING_APPROVAL,
    (LineStatus.PENDING_APPROVAL, LineEvent.APPROVE): LineStatus.APPROVED,
    (LineStatus.PENDING_APPROVAL, LineEvent.REJECT): LineStatus.REJECTED,
}
"""Every legal step of a count line."""

DECIDED = frozenset(
    {LineStatus.COUNTED, LineStatus.ADJUSTED, LineStatus.APPROVED, LineStatus.REJECTED}
)
"""Line statuses that need nothing more."""


def next_count_status(current: str, event: CountEvent, *, count_id: str) -> CountStatus:
    """The count's status after ``event``, or ``IllegalCountStep``."""
    state = CountStatus(current)
    found = COUNT_TRANSITIONS.get((state, event))
    if found is None:
        raise IllegalCountStep(
            f"count {count_id} is {state.value.replace('_', ' ')}: it cannot "
            f"{event.value.replace('_', ' ')}",
            field="status",
        )
    return found


def next_line_status(current: str, event: LineEvent, *, line_no: int) -> LineStatus:
    """The line's status after ``event``, or ``IllegalCountStep``."""
    state = LineStatus(current)
    found = LINE_TRANSITIONS.get((state, event))
    if found is None:
        raise IllegalCountStep(
            f"line {line_no} is {state.value.replace('_', ' ')}: it cannot {event.value}",
            field="line_no",
        )
    return found


def judge(expected: int, counted: int, tolerance_pct: Decimal) -> LineEvent:
    """What a count of ``counted`` against books of ``expected`` leads to."""
    if counted == expected:
        return LineEvent.MATCH
    if within_tolerance(expected, counted, tolerance_pct):
        return LineEvent.ADJUST
    return LineEvent.HOLD


def settle(current: str, lines: Iterable[str], *, count_id: str) -> CountStatus:
    """The count's status once its lines are where they are (unchanged while lines are open)."""
    statuses = [LineStatus(s) for s in lines]
    state = CountStatus(current)
    if any(s is LineStatus.OPEN for s in statuses):
        return state
    if any(s is LineStatus.PENDING_APPROVAL for s in statuses):
        if state is CountStatus.PENDING_APPROVAL:
            return state
        return next_count_status(current, CountEvent.AWAIT_APPROVAL, count_id=count_id)
    return next_count_status(current, CountEvent.CLOSE, count_id=count_id)


# --- accuracy ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Inventory record accuracy over a set of counted lines."""

    counted: int
    exact: int  # the books were right to the unit
    within_tolerance: int  # close enough (exact ones included)

    @property
    def accuracy_pct(self) -> Decimal | None:
        """Share of counted lines the books had exactly right, in percent (None: none counted)."""
        return _pct(self.exact, self.counted)

    @property
    def within_tolerance_pct(self) -> Decimal | None:
        """Share of counted lines within their count's tolerance, in percent."""
        return _pct(self.within_tolerance, self.counted)


def _pct(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.01"))


def measure(lines: Iterable[tuple[int, int, Decimal]]) -> Accuracy:
    """Accuracy of ``(expected, counted, tolerance %)`` lines."""
    counted = exact = within = 0
    for expected, got, tolerance in lines:
        counted += 1
        exact += expected == got
        within += within_tolerance(expected, got, tolerance)
    return Accuracy(counted, exact, within)


@dataclass(frozen=True, slots=True)
class Decide:
    """A second person's decision on a variance waiting for approval."""

    count_id: str
    line_no: int
    actor: str
    retry: bool = False


class SamePerson(IllegalCountStep):
    """The person who counted a line may not decide on its variance."""

    title = "Needs a second person"
