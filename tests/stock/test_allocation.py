"""The pure rules: FEFO planning on a StockBook, posting rules and quantity checks.

No database here: these run in milliseconds and pin down the rules every
locked code path relies on.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockflow.errors import ExpiredLot, InsufficientStock, InvalidInput
from stockflow.stock.rules.allocation import Candidate, LineRequest, PlannedAllocation, StockBook
from stockflow.stock.rules.moves import NOTE_REQUIRED, Direction, Reason, posting_rule
from stockflow.stock.rules.quantities import MAX_QUANTITY, non_negative_quantity, positive_quantity

TODAY = date(2030, 6, 15)
SKU = 1
OTHER_SKU = 2
WH1, WH2 = 10, 20
LOCATION_CODES = {WH1: "WH1", WH2: "WH2"}


def cand(
    position_id: int,
    free: int,
    *,
    sku: int = SKU,
    location: int = WH1,
    bin_code: str = "MAIN",
    lot: str = "",
    expires_in: int | None = None,
) -> Candidate:
    """A candidate position; ``expires_in`` is days from TODAY (0 means expires today)."""
    return Candidate(
        position_id=position_id,
        sku_id=sku,
        location_id=location,
        location_code=LOCATION_CODES[location],
        bin_code=bin_code,
        lot_code=lot,
        expires_on=None if expires_in is None else TODAY + timedelta(days=expires_in),
        free=free,
    )


def line(
    qty: int,
    *,
    sku: int = SKU,
    location: int | None = None,
    lot: str | None = None,
    index: int = 0,
) -> LineRequest:
    return LineRequest(
        sku_id=sku,
        sku_code=f"SKU{sku}",
        qty=qty,
        field=f"lines[{index}]",
        location_id=location,
        location_code=LOCATION_CODES[location] if location else None,
        lot_code=lot,
    )


def book(*candidates: Candidate, buffers: dict[tuple[int, int], int] | None = None) -> StockBook:
    return StockBook(candidates, buffers=buffers or {}, today=TODAY)


def taken(plan: list[PlannedAllocation]) -> list[tuple[int, int]]:
    return [(a.position_id, a.qty) for a in plan]


# FEFO -------------------------------------------------------------------------


def test_fefo_takes_the_first_expiring_lot_first_and_undated_stock_last() -> None:
    stock = book(
        cand(1, 5, location=WH1, lot="LATE", expires_in=30),
        cand(2, 4, location=WH2, lot="SOON", expires_in=2),
        cand(3, 9, location=WH1, lot="", expires_in=None),
        cand(4, 3, location=WH2, lot="MID", expires_in=10),
    )
    plan = stock.plan([line(14)])
    assert taken(plan) == [(2, 4), (4, 3), (1, 5), (3, 2)]
    assert all(a.line_index == 0 and a.sku_id == SKU for a in plan)


def test_fefo_ties_are_broken_by_location_then_bin() -> None:
    stock = book(
        cand(1, 2, location=WH2, bin_code="A-01", lot="L", expires_in=5),
        cand(2, 2, location=WH1, bin_code="B-01", lot="L", expires_in=5),
        cand(3, 2, location=WH1, bin_code="A-02", lot="L", expires_in=5),
    )
    assert taken(stock.plan([line(5)])) == [(3, 2), (2, 2), (1, 1)]


@pytest.mark.parametrize("days", [0, -1, -400])
def test_expired_lots_are_never_planned(days: int) -> None:
    stock = book(cand(1, 50, lot="OLD", expires_in=days), cand(2, 3, lot="NEW", expires_in=1))
    assert stock.available(SKU) == 3
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(4)])
    assert caught.value.available == 3
    assert taken(stock.plan([line(3)])) == [(2, 3)]


def test_a_lot_expiring_tomorrow_may_still_be_promised() -> None:
    stock = book(cand(1, 2, lot="L", expires_in=1))
    assert taken(stock.plan([line(2, lot="L")])) == [(1, 2)]


def test_pinning_an_expired_lot_is_an_expired_lot_error_naming_the_line() -> None:
    stock = book(cand(1, 5, lot="GONE", expires_in=0), cand(2, 5, lot="FRESH", expires_in=9))
    with pytest.raises(ExpiredLot) as caught:
        stock.plan([line(1, lot="FRESH"), line(1, lot="GONE", index=1)])
    assert caught.value.field == "lines[1].lot"
    assert stock.available(SKU) == 5  # the first line took nothing: all or nothing


def test_pinning_an_unknown_lot_is_insufficient_stock_with_nothing_available() -> None:
    stock = book(cand(1, 5, lot="FRESH", expires_in=9))
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(1, lot="NOPE")])
    assert (caught.value.requested, caught.value.available) == (1, 0)


def test_lot_and_location_pins_only_use_matching_positions() -> None:
    stock = book(
        cand(1, 5, location=WH1, lot="A", expires_in=3),
        cand(2, 5, location=WH2, lot="A", expires_in=3),
        cand(3, 5, location=WH2, lot="B", expires_in=1),
    )
    assert taken(stock.plan([line(6, location=WH2)])) == [(3, 5), (2, 1)]
    assert taken(stock.plan([line(5, lot="A")])) == [(1, 5)]
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(5, lot="A", location=WH2)])
    assert (caught.value.available, caught.value.location) == (4, "WH2")


# safety buffers ---------------------------------------------------------------


def test_buffer_is_headroom_per_location_not_per_bin() -> None:
    stock = book(
        cand(1, 3, location=WH1, bin_code="A-01"),
        cand(2, 5, location=WH1, bin_code="A-02"),
        cand(3, 2, location=WH2),
        buffers={(SKU, WH1): 4},
    )
    assert stock.available(SKU) == 4 + 2
    assert stock.available(SKU, WH1) == 4
    plan = stock.plan([line(5)])
    assert taken(plan) == [(1, 3), (2, 1), (3, 1)]
    assert stock.available(SKU, WH1) == 0
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(2, location=WH1)])
    assert caught.value.available == 0
    assert taken(stock.plan([line(1)])) == [(3, 1)]


def test_buffer_larger_than_stock_leaves_nothing_and_does_not_borrow_elsewhere() -> None:
    stock = book(cand(1, 3, location=WH1), cand(2, 4, location=WH2), buffers={(SKU, WH1): 10})
    assert stock.available(SKU) == 4
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(5)])
    assert caught.value.available == 4


def test_buffer_of_another_sku_or_location_changes_nothing() -> None:
    stock = book(cand(1, 3), buffers={(OTHER_SKU, WH1): 3, (SKU, WH2): 3})
    assert taken(stock.plan([line(3)])) == [(1, 3)]


def test_expired_stock_does_not_count_towards_the_buffer_headroom() -> None:
    stock = book(
        cand(1, 10, lot="OLD", expires_in=-1),
        cand(2, 5, lot="NEW", expires_in=5),
        buffers={(SKU, WH1): 3},
    )
    assert stock.available(SKU) == 2
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(3)])
    assert caught.value.available == 2


# all or nothing, several lines --------------------------------------------------


def test_a_failed_plan_takes_nothing_from_the_book() -> None:
    stock = book(cand(1, 10), cand(2, 2, sku=OTHER_SKU), buffers={(SKU, WH1): 1})
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(6), line(3, sku=OTHER_SKU, index=1)])
    assert (caught.value.sku, caught.value.field) == ("SKU2", "lines[1].qty")
    assert stock.candidate(1).free == 10
    assert (stock.available(SKU), stock.available(OTHER_SKU)) == (9, 2)
    # Everything is still there for the next request, buffer headroom included.
    assert taken(stock.plan([line(9), line(2, sku=OTHER_SKU, index=1)])) == [(1, 9), (2, 2)]
    assert (stock.available(SKU), stock.available(OTHER_SKU)) == (0, 0)
    assert (stock.candidate(1).free, stock.candidate(2).free) == (1, 0)


def test_successive_plans_share_the_book() -> None:
    stock = book(cand(1, 5))
    for _ in range(5):
        stock.plan([line(1)])
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(1)])
    assert caught.value.available == 0


def test_two_lines_of_one_sku_in_one_plan_do_not_count_the_same_units_twice() -> None:
    stock = book(cand(1, 4, location=WH1), cand(2, 6, location=WH2))
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(6), line(5, location=WH2, index=1)])
    # Line 0 took 4 at WH1 and 2 at WH2, so line 1 could only have had 4.
    assert (caught.value.available, caught.value.field, caught.value.location) == (
        4,
        "lines[1].qty",
        "WH2",
    )
    assert stock.available(SKU) == 10
    plan = stock.plan([line(6), line(4, location=WH2, index=1)])
    assert [(a.line_index, a.position_id, a.qty) for a in plan] == [
        (0, 1, 4),
        (0, 2, 2),
        (1, 2, 4),
    ]
    assert stock.available(SKU) == 0


def test_two_lines_of_one_sku_share_the_buffer_headroom() -> None:
    stock = book(cand(1, 5, bin_code="A-01"), cand(2, 5, bin_code="A-02"), buffers={(SKU, WH1): 4})
    with pytest.raises(InsufficientStock) as caught:
        stock.plan([line(4), line(3, location=WH1, index=1)])
    assert caught.value.available == 2


candidates_strategy = st.lists(
    st.tuples(
        st.integers(1, 20),  # free
        st.sampled_from([WH1, WH2]),
        st.one_of(st.none(), st.integers(-3, 10)),  # days to expiry, None: not dated
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    rows=candidates_strategy,
    buffers=st.dictionaries(st.sampled_from([WH1, WH2]), st.integers(0, 15), max_size=2),
    qty=st.integers(1, 80),
    pin=st.sampled_from([None, WH1, WH2]),
)
def test_insufficient_stock_says_exactly_what_the_line_could_have_had(
    rows: list[tuple[int, int, int | None]],
    buffers: dict[int, int],
    qty: int,
    pin: int | None,
) -> None:
    candidates = [
        cand(n, free, location=loc, lot=f"L{days}" if days is not None else "", expires_in=days)
        for n, (free, loc, days) in enumerate(rows, start=1)
    ]
    stock = book(*candidates, buffers={(SKU, loc): q for loc, q in buffers.items()})
    before = {c.position_id: c.free for c in candidates}
    could_have = stock.available(SKU, pin)
    # Independent of the book: per location, fresh free stock less the buffer.
    expected = sum(
        max(
            0,
            sum(
                c.free
                for c in candidates
                if c.location_id == loc and (c.expires_on is None or c.expires_on > TODAY)
            )
            - buffers.get(loc, 0),
        )
        for loc in ([pin] if pin else [WH1, WH2])
    )
    assert could_have == expected
    if qty > could_have:
        with pytest.raises(InsufficientStock) as caught:
            stock.plan([line(qty, location=pin)])
        assert caught.value.available == could_have
        assert {c.position_id: c.free for c in candidates} == before
        return
    plan = stock.plan([line(qty, location=pin)])
    assert sum(a.qty for a in plan) == qty
    for a in plan:
        c = stock.candidate(a.position_id)
        assert 0 < a.qty <= before[a.position_id]
        assert not c.expired(TODAY)
        assert pin is None or c.location_id == pin
    assert stock.available(SKU, pin) == could_have - qty


# posting rules ----------------------------------------------------------------

VALID = [
    ("receipt", Direction.IN),
    ("putaway", Direction.BETWEEN),
    ("move", Direction.BETWEEN),
    ("adjustment", Direction.IN),
    ("adjustment", Direction.OUT),
    ("count_correction", Direction.IN),
    ("count_correction", Direction.OUT),
    ("pick", Direction.BETWEEN),
    ("ship", Direction.OUT),
    ("return", Direction.IN),
    ("scrap", Direction.OUT),
    ("transfer_out", Direction.BETWEEN),
    ("transfer_out", Direction.OUT),
    ("transfer_in", Direction.BETWEEN),
    ("transfer_in", Direction.IN),
]
ENDS = {
    Direction.IN: (False, True),
    Direction.OUT: (True, False),
    Direction.BETWEEN: (True, True),
}


@pytest.mark.parametrize(("reason", "direction"), VALID)
def test_posting_rule_accepts_each_allowed_shape(reason: str, direction: Direction) -> None:
    has_from, has_to = ENDS[direction]
    rule = posting_rule(reason, has_from=has_from, has_to=has_to, note="counted twice")
    assert (rule.reason, rule.direction) == (Reason(reason), direction)


@pytest.mark.parametrize(
    ("reason", "direction"),
    [
        (r.value, d)
        for r in Reason
        for d in Direction
        if (r.value, d) not in VALID  # every other combination is refused
    ],
)
def test_posting_rule_refuses_every_other_shape(reason: str, direction: Direction) -> None:
    has_from, has_to = ENDS[direction]
    with pytest.raises(InvalidInput) as caught:
        posting_rule(reason, has_from=has_from, has_to=has_to, note="why")
    assert caught.value.field == "reason"
    assert direction.value in caught.value.detail


def test_posting_rule_table_covers_every_reason() -> None:
    assert {reason for reason, _ in VALID} == {r.value for r in Reason}


def test_posting_rule_refuses_an_unknown_reason_and_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        posting_rule("teleport", has_from=False, has_to=True, note=None)
    assert caught.value.field == "reason"
    assert "teleport" in caught.value.detail
    assert "receipt" in caught.value.detail


def test_posting_rule_needs_at_least_one_end() -> None:
    with pytest.raises(InvalidInput) as caught:
        posting_rule("receipt", has_from=False, has_to=False, note=None)
    assert caught.value.field == "to"


@pytest.mark.parametrize("reason", sorted(r.value for r in NOTE_REQUIRED))
@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_adjustments_and_scrap_need_a_real_note(reason: str, note: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        posting_rule(reason, has_from=True, has_to=False, note=note)
    assert caught.value.field == "note"
    assert posting_rule(reason, has_from=True, has_to=False, note="damaged").reason == reason


def test_only_adjustments_and_scrap_need_a_note() -> None:
    assert {Reason.ADJUSTMENT, Reason.SCRAP} == NOTE_REQUIRED
    assert posting_rule("ship", has_from=True, has_to=False, note=None).reason is Reason.SHIP


# quantities -------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 7, MAX_QUANTITY])
def test_positive_quantity_accepts_whole_positive_numbers(value: int) -> None:
    assert positive_quantity(value) == value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "greater than 0"),
        (-1, "greater than 0"),
        (MAX_QUANTITY + 1, "at most"),
        (True, "whole number"),
        (1.0, "whole number"),
        (1.5, "whole number"),
        ("3", "whole number"),
        (None, "whole number"),
    ],
)
def test_positive_quantity_refuses_everything_else(value: object, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        positive_quantity(value, field="lines[3].qty", row=12)
    assert (caught.value.field, caught.value.row) == ("lines[3].qty", 12)
    assert words in caught.value.detail
    assert str(caught.value).startswith("row 12, field 'lines[3].qty': ")


@pytest.mark.parametrize("value", [0, 1, MAX_QUANTITY])
def test_non_negative_quantity_accepts_zero(value: int) -> None:
    assert non_negative_quantity(value, field="sequence") == value


@pytest.mark.parametrize("value", [-1, MAX_QUANTITY + 1, False, 2.0, "0"])
def test_non_negative_quantity_refuses_negatives_and_non_integers(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        non_negative_quantity(value, field="sequence")
    assert caught.value.field == "sequence"
