"""Ledger posting rules: which reasons move stock in, out, or between positions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stockflow.errors import InvalidInput


class Reason(StrEnum):
    """Why stock moved; every ledger row carries one."""

    RECEIPT = "receipt"
    PUTAWAY = "putaway"
    MOVE = "move"
    ADJUSTMENT = "adjustment"
    COUNT_CORRECTION = "count_correction"
    PICK = "pick"
    SHIP = "ship"
    RETURN = "return"
    SCRAP = "scrap"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"


class Direction(StrEnum):
    """Which ends of a move are positions inside stockflow."""

    IN = "in"  # from the outside world to a position
    OUT = "out"  # from a position to the outside world
    BETWEEN = "between"  # from one position to another


_ALLOWED: dict[Reason, frozenset[Direction]] = {
    Reason.RECEIPT: frozenset({Direction.IN}),
    Reason.PUTAWAY: frozenset({Direction.BETWEEN}),
    Reason.MOVE: frozenset({Direction.BETWEEN}),
    Reason.ADJUSTMENT: frozenset({Direction.IN, Direction.OUT}),
    Reason.COUNT_CORRECTION: frozenset({Direction.IN, Direction.OUT}),
    Reason.PICK: frozenset({Direction.BETWEEN}),
    Reason.SHIP: frozenset({Direction.OUT}),
    Reason.RETURN: frozenset({Direction.IN}),
    Reason.SCRAP: frozenset({Direction.OUT}),
    Reason.TRANSFER_OUT: frozenset({Direction.BETWEEN, Direction.OUT}),
    Reason.TRANSFER_IN: frozenset({Direction.BETWEEN, Direction.IN}),
}

NOTE_REQUIRED = frozenset({Reason.ADJUSTMENT, Reason.SCRAP})
"""Reasons a person must explain: an unexplained adjustment or write-off cannot be audited."""


@dataclass(frozen=True, slots=True)
class PostingRule:
    """The checked shape of one ledger posting."""

    reason: Reason
    direction: Direction


def posting_rule(reason: str, *, has_from: bool, has_to: bool, note: str | None) -> PostingRule:
    """Check that a move with this reason may go between these ends, else ``InvalidInput``."""
    try:
        checked = Reason(reason)
    except ValueError:
        choices = ", ".join(r.value for r in Reason)
        raise InvalidInput(
            f"unknown reason {reason!r}; use one of: {choices}", field="reason"
        ) from None
    if has_from and has_to:
        direction = Direction.BETWEEN
    elif has_to:
        direction = Direction.IN
    elif has_from:
        direction = Direction.OUT
    else:
        raise InvalidInput("a move needs a source, a destination or both", field="to")
    if direction not in _ALLOWED[checked]:
        allowed = " or ".join(sorted(d.value for d in _ALLOWED[checked]))
        raise InvalidInput(
            f"a {checked.value} move goes {allowed}, not {direction.value}", field="reason"
        )
    if checked in NOTE_REQUIRED and not (note and note.strip()):
        raise InvalidInput(f"{checked.value} needs a note saying why", field="note")
    return PostingRule(checked, direction)
