"""The counting rules on their own: ABC classes, tolerance, lifecycles, accuracy, scopes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stockflow.counts.rules import (
    AbcClass,
    Accuracy,
    CountEvent,
    CountScope,
    CountStatus,
    IllegalCountStep,
    LineEvent,
    LineStatus,
    checked_tolerance,
    classify_abc,
    judge,
    measure,
    next_count_status,
    next_line_status,
    settle,
    within_tolerance,
)
from stockflow.errors import InvalidInput

A, B, C = AbcClass.A, AbcClass.B, AbcClass.C


def test_abc_gives_a_to_the_top_80_percent_b_to_the_next_15_and_c_to_the_rest() -> None:
    values = {1: Decimal(500), 2: Decimal(300), 3: Decimal(100), 4: Decimal(60), 5: Decimal(40)}
    # Cumulative share before each: 0 %, 50 %, 80 %, 90 %, 96 %.
    assert classify_abc(values) == {1: A, 2: A, 3: B, 4: B, 5: C}


def test_abc_puts_the_sku_that_crosses_the_line_in_the_higher_class() -> None:
    assert classify_abc({1: Decimal(79), 2: Decimal(21)}) == {1: A, 2: A}
    assert classify_abc({1: Decimal(80), 2: Decimal(20)}) == {1: A, 2: B}


def test_abc_without_value_is_c_and_ties_are_ranked_by_key() -> None:
    assert classify_abc({}) == {}
    assert classify_abc({1: Decimal(0), 2: Decimal(0)}) == {1: C, 2: C}
    assert classify_abc({7: Decimal(10), 3: Decimal(10), 9: Decimal(0)}) == {3: A, 7: A, 9: C}
    assert classify_abc({1: Decimal(1)}, a_share=Decimal(0), b_share=Decimal(0)) == {1: C}


@pytest.mark.parametrize(
    ("expected", "counted", "pct", "within"),
    [
        (100, 95, Decimal(5), True),
        (100, 94, Decimal(5), False),
        (100, 105, Decimal(5), True),
        (3, 2, Decimal("33.34"), True),
        (3, 2, Decimal("33.33"), False),
        (10, 10, Decimal(0), True),
        (10, 9, Decimal(0), False),
        (0, 0, Decimal(0), True),
        (0, 1, Decimal(100), False),  # stock where the books say none: never automatic
        (5, 0, Decimal(100), True),
    ],
)
def test_tolerance_is_a_share_of_the_books(
    expected: int, counted: int, pct: Decimal, within: bool
) -> None:
    assert within_tolerance(expected, counted, pct) is within


def test_a_count_matches_adjusts_or_waits() -> None:
    assert judge(10, 10, Decimal(0)) is LineEvent.MATCH
    assert judge(100, 98, Decimal(2)) is LineEvent.ADJUST
    assert judge(100, 97, Decimal(2)) is LineEvent.HOLD
    assert judge(0, 4, Decimal(100)) is LineEvent.HOLD


def test_tolerances_are_percentages_with_two_decimals() -> None:
    assert checked_tolerance(5) == Decimal(5)
    assert checked_tolerance("2.5") == Decimal("2.5")
    assert checked_tolerance(Decimal("100")) == Decimal(100)
    for bad in (-1, 100.5, "101", "1.005", "x", True, None, "NaN"):
        with pytest.raises(InvalidInput) as caught:
            checked_tolerance(bad)
        assert caught.value.field == "tolerance_pct"


def test_the_count_lifecycle() -> None:
    assert next_count_status("open", CountEvent.CANCEL, count_id="C") is CountStatus.CANCELLED
    for state in ("pending_approval", "closed", "cancelled"):
        with pytest.raises(IllegalCountStep, match="count C is"):
            next_count_status(state, CountEvent.CANCEL, count_id="C")
    with pytest.raises(IllegalCountStep):
        next_count_status("closed", CountEvent.CLOSE, count_id="C")


def test_a_count_settles_from_its_lines() -> None:
    o, c, a, p, ok, no = (s.value for s in LineStatus)
    assert settle("open", [o, c], count_id="C") is CountStatus.OPEN
    assert settle("open", [p, c], count_id="C") is CountStatus.PENDING_APPROVAL
    assert settle("pending_approval", [p, ok], count_id="C") is CountStatus.PENDING_APPROVAL
    assert settle("pending_approval", [no, ok, a], count_id="C") is CountStatus.CLOSED
    assert settle("open", [c, a], count_id="C") is CountStatus.CLOSED
    with pytest.raises(IllegalCountStep):
        settle("cancelled", [c], count_id="C")


def test_the_line_lifecycle() -> None:
    assert next_line_status("open", LineEvent.HOLD, line_no=1) is LineStatus.PENDING_APPROVAL
    assert next_line_status("pending_approval", LineEvent.REJECT, line_no=1) is LineStatus.REJECTED
    with pytest.raises(IllegalCountStep, match="line 4 is adjusted"):
        next_line_status("adjusted", LineEvent.APPROVE, line_no=4)
    with pytest.raises(IllegalCountStep):
        next_line_status("open", LineEvent.APPROVE, line_no=1)


def test_accuracy_counts_exact_and_within_tolerance_lines() -> None:
    got = measure(
        [(10, 10, Decimal(0)), (10, 9, Decimal(10)), (10, 5, Decimal(10)), (0, 2, Decimal(50))]
    )
    assert got == Accuracy(counted=4, exact=1, within_tolerance=2)
    assert (got.accuracy_pct, got.within_tolerance_pct) == (Decimal("25.00"), Decimal("50.00"))
    assert measure([(1, 1, Decimal(0))] * 2 + [(1, 0, Decimal(0))]).accuracy_pct == Decimal("66.67")
    assert measure([]).accuracy_pct is None


def test_a_scope_needs_what_its_kind_needs() -> None:
    assert CountScope("zone", zone=" A ").checked() == CountScope("zone", zone="A")
    assert CountScope("zone", zone="A").describe() == "zone:A"
    assert CountScope("location").checked().describe() == "location"
    assert CountScope("short_picks").describe() == "short_picks"
    assert CountScope("abc", abc_class="B", days=30).describe() == "abc:B/30d"
    many = CountScope("bins", bins=tuple(f"BIN-{n:03d}" for n in range(20)))
    text = many.describe()
    assert len(text) <= 64
    assert text.startswith("bins:BIN-000,")
    shown = text.removeprefix("bins:").split("+")[0].count(",") + 1
    assert text.endswith(f"+{20 - shown} more")
    for scope, field in (
        (CountScope("zone"), "scope.zone"),
        (CountScope("bins", bins=("X", "X")), "scope.bins"),
        (CountScope("abc", abc_class="A", days=0), "scope.days"),
        (CountScope("abc"), "scope.abc_class"),
    ):
        with pytest.raises(InvalidInput) as caught:
            scope.checked()
        assert caught.value.field == field
