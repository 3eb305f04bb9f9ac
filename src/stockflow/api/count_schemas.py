"""Request and response bodies for cycle counts.

The counter's bodies (``SheetOut``, ``SheetLineOut``) have no field for the
books' quantity on purpose: a blind count must not be able to leak it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasPath, Field, StrictInt

from stockflow.api.schemas import Body, Code, LotCode, Out, Units
from stockflow.counts.rules import MAX_DAYS


class ScopeIn(Body):
    kind: Literal["location", "zone", "bins", "abc", "short_picks"]
    zone: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    bins: Annotated[list[Code], Field(max_length=1000)] = Field(default_factory=list)
    abc_class: Literal["A", "B", "C"] | None = None
    days: StrictInt = Field(default=90, ge=1, le=MAX_DAYS, description="ABC history in days")


class CountIn(Body):
    location: Code
    scope: ScopeIn
    tolerance_pct: Decimal = Field(
        default=Decimal(0), ge=0, le=100, decimal_places=2,
        description="A variance within this share of the books is corrected without approval",
    )  # fmt: skip


class CountLineOut(Out):
    line_no: int
    bin: str
    zone: str | None
    sku: str
    lot: str | None
    status: str
    expected: int | None = Field(description="The books when the line was counted")
    counted: int | None
    variance: int | None
    counted_by: str | None
    counted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None


class CountOut(Out):
    id: str
    location: str
    scope: str
    status: str
    tolerance_pct: Decimal
    created_by: str
    created_at: datetime
    updated_at: datetime
    lines: list[CountLineOut]


class SheetLineOut(Out):
    line_no: int
    bin: str
    zone: str | None
    sku: str
    sku_name: str
    lot: str | None
    counted: int | None = Field(description="What the counter entered")
    done: bool


class SheetOut(Out):
    id: str
    location: str
    scope: str
    status: str
    lines: list[SheetLineOut]


class CountedIn(Body):
    counted: Units


class FoundIn(Body):
    bin: Code
    sku: Code
    lot: LotCode | None = None
    counted: Units


def _of_accuracy(name: str) -> AliasPath:
    """Read from the row's ``accuracy`` (a ``LocationAccuracy``), shown flat in the body."""
    return AliasPath("accuracy", name)


class AccuracyOut(Out):
    location: str
    start: date
    end: date
    counted: int = Field(validation_alias=_of_accuracy("counted"))
    exact: int = Field(validation_alias=_of_accuracy("exact"))
    within_tolerance: int = Field(validation_alias=_of_accuracy("within_tolerance"))
    accuracy_pct: Decimal | None = Field(
        validation_alias=_of_accuracy("accuracy_pct"),
        description="Counted lines with no variance, in %",
    )
    within_tolerance_pct: Decimal | None = Field(
        validation_alias=_of_accuracy("within_tolerance_pct")
    )
