"""The rules a sales channel sets: priority, where it ships from, splits, backorders, holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from stockflow.errors import InvalidInput


class BackorderPolicy(StrEnum):
    """What a channel does with an order it cannot fill now."""

    ALLOW = "allow"
    REJECT = "reject"
    ALLOW_DAYS = "allow_days"  # only when a promise date is at most N days away


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """The rules a channel applies at capture."""

    id: int
    code: str
    priority: int  # higher wins
    ship_from: tuple[int, ...]  # location ids; empty = every sellable location
    max_splits: int  # locations one order may ship from
    allow_partial: bool
    backorder_policy: BackorderPolicy
    backorder_days: int | None
    hold_over_value: Decimal | None
    hold_new_customers: bool

    def accepts_backorder(self, promise: date | None, today: date) -> bool:
        """Whether an unfilled order may wait, given its promise date (if any)."""
        if self.backorder_policy is BackorderPolicy.ALLOW:
            return True
        if self.backorder_policy is BackorderPolicy.REJECT:
            return False
        return promise is not None and (promise - today).days <= (self.backorder_days or 0)


def checked_policy(value: str, days: int | None) -> tuple[BackorderPolicy, int | None]:
    """A backorder policy with its day limit, checked."""
    try:
        policy = BackorderPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in BackorderPolicy)
        raise InvalidInput(f"use one of: {choices}", field="backorder_policy") from None
    if policy is BackorderPolicy.ALLOW_DAYS and (days is None or days < 0):
        raise InvalidInput("allow_days needs a number of days >= 0", field="backorder_days")
    return policy, days if policy is BackorderPolicy.ALLOW_DAYS else None
