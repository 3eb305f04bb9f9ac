"""The order rules without a database: ship-from choice, splits, partial shipment, kits,
ring fences, the order lifecycle table, backorder policies and distances.

Every order path (capture, backorder fill, cancellation, hold release) leans on
these functions, so each rule is pinned down here in milliseconds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from stockflow.errors import InvalidInput
from stockflow.orders.rules.channels import BackorderPolicy, ChannelRules, checked_policy
from stockflow.orders.rules.fulfilment import Need, Site, plan_order
from stockflow.orders.rules.parties import KitRecipe, NewChannel
from stockflow.stock.rules.allocation import Candidate, StockBook
from stockflow.stock.rules.order_lifecycle import (
    OPEN_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    OrderStatus,
    next_status,
    status_after_allocation,
)
from stockflow.stock.rules.places import distance_km

TODAY = date(2031, 3, 3)
LAMP, MUG, TEA = 1, 2, 3
CODES = {LAMP: "LAMP", MUG: "MUG", TEA: "TEA"}
HAM, CGN, MUC = 10, 20, 30
PLACES = {HAM: "HAM", CGN: "CGN", MUC: "MUC"}
WEB, MARKET = 100, 200

HAMBURG = (53.55, 9.993)
COLOGNE = (50.9375, 6.9603)
MUNICH = (48.1371, 11.5754)


def channel(**rules: object) -> ChannelRules:
    base = ChannelRules(
        id=WEB,
        code="web",
        priority=0,
        ship_from=(),
        max_splits=1,
        allow_partial=False,
        backorder_policy=BackorderPolicy.ALLOW,
        backorder_days=None,
        hold_over_value=None,
        hold_new_customers=False,
    )
    return replace(base, **rules)  # type: ignore[arg-type]


def book(
    stock: dict[tuple[int, int], int],
    *,
    fences: dict[tuple[int, int, int], int] | None = None,
    lots: list[tuple[int, int, str, int, int]] = (),  # type: ignore[assignment]
) -> StockBook:
    """Free units per (sku, location); ``lots``: (sku, location, lot, free, expires in days)."""
    candidates = [
        Candidate(n, sku, loc, PLACES[loc], "MAIN", "", None, free)
        for n, ((sku, loc), free) in enumerate(sorted(stock.items()), start=1)
    ]
    candidates += [
        Candidate(100 + n, sku, loc, PLACES[loc], "MAIN", lot, TODAY + timedelta(days=days), free)
        for n, (sku, loc, lot, free, days) in enumerate(lots)
    ]
    return StockBook(candidates, buffers={}, today=TODAY, fences=fences)


def needs(*lines: tuple[int, int], line_nos: tuple[int, ...] = ()) -> list[Need]:
    """Needs of (sku, qty); each its own line unless ``line_nos`` says otherwise."""
    numbers = line_nos or tuple(range(1, len(lines) + 1))
    return [Need(no, sku, CODES[sku], qty) for no, (sku, qty) in zip(numbers, lines, strict=True)]


def sites(*kms: tuple[int, float]) -> list[Site]:
    return [Site(loc, PLACES[loc], km) for loc, km in kms]


def taken(plan_allocations: list[tuple[Need, object]], bk: StockBook) -> dict[str, int]:
    """Units taken per location code."""
    out: dict[str, int] = {}
    for _, a in plan_allocations:
        code = bk.candidate(a.position_id).location_code  # type: ignore[attr-defined]
        out[code] = out.get(code, 0) + a.qty  # type: ignore[attr-defined]
    return out


EVERYWHERE = sites((MUC, 0), (CGN, 457), (HAM, 612))  # as seen from Munich


# ship-from choice ---------------------------------------------------------------------------


def test_the_nearest_location_that_has_everything_ships_the_whole_order() -> None:
    bk = book({(LAMP, HAM): 10, (LAMP, CGN): 10, (LAMP, MUC): 10, (MUG, MUC): 1, (MUG, CGN): 5})
    plan = plan_order(bk, needs((LAMP, 2), (MUG, 2)), EVERYWHERE, channel())
    assert plan.complete
    assert taken(plan.allocations, bk) == {"CGN": 4}
    assert plan.decisions == ["MUC: 1 of 2 MUG available", "ships whole from CGN (457 km)"]
    # What was taken is gone from the book for the next order.
    assert bk.available(MUG, CGN) == 3


def test_ties_in_distance_go_to_the_location_code_so_plans_are_repeatable() -> None:
    bk = book({(LAMP, HAM): 5, (LAMP, CGN): 5})
    far = sites((HAM, 300), (CGN, 300))
    plan = plan_order(bk, needs((LAMP, 1)), far, channel())
    assert taken(plan.allocations, bk) == {"CGN": 1}


def test_a_channel_without_locations_plans_nothing_and_says_why() -> None:
    bk = book({(LAMP, HAM): 5})
    plan = plan_order(bk, needs((LAMP, 2)), [], channel(code="popup"))
    assert (plan.allocations, plan.missing) == ([], {0: 2})
    assert plan.decisions == ["channel popup has no location to ship from"]


# splits ---------------------------------------------------------------------------------------


def test_a_split_takes_the_nearest_locations_up_to_the_limit() -> None:
    bk = book({(LAMP, HAM): 3, (LAMP, CGN): 3, (LAMP, MUC): 3})
    plan = plan_order(bk, needs((LAMP, 5)), EVERYWHERE, channel(max_splits=2))
    assert plan.complete
    assert taken(plan.allocations, bk) == {"MUC": 3, "CGN": 2}
    assert plan.decisions[-2:] == [
        "split: MUC (0 km) gives 3 LAMP",
        "split: CGN (457 km) gives 2 LAMP",
    ]


def test_no_split_beyond_the_limit_and_nothing_taken() -> None:
    bk = book({(LAMP, HAM): 3, (LAMP, CGN): 3, (LAMP, MUC): 3})
    plan = plan_order(bk, needs((LAMP, 9)), EVERYWHERE, channel(max_splits=2))
    assert (plan.allocations, plan.missing) == ([], {0: 9})
    assert plan.decisions[-1] == (
        "no split over 2 location(s) fills the order (LAMP short 3); nothing allocated"
    )
    assert bk.available(LAMP) == 9
    assert plan_order(bk, needs((LAMP, 9)), EVERYWHERE, channel(max_splits=3)).complete


def test_an_empty_location_does_not_count_as_a_split() -> None:
    bk = book({(LAMP, HAM): 3, (LAMP, CGN): 3})
    plan = plan_order(bk, needs((LAMP, 5)), EVERYWHERE, channel(max_splits=2))
    assert plan.complete
    assert taken(plan.allocations, bk) == {"CGN": 3, "HAM": 2}


# partial shipment ---------------------------------------------------------------------------


def test_partial_shipment_takes_what_the_allowed_locations_have() -> None:
    bk = book({(LAMP, HAM): 2, (LAMP, CGN): 1, (MUG, HAM): 4})
    from_hamburg = sites((HAM, 0), (CGN, 356), (MUC, 612))
    plan = plan_order(
        bk, needs((LAMP, 5), (MUG, 1)), from_hamburg, channel(allow_partial=True, max_splits=1)
    )
    assert not plan.complete
    assert plan.missing == {0: 3}  # one location only: Cologne's lamp stays
    assert taken(plan.allocations, bk) == {"HAM": 3}
    assert plan.decisions[-1] == "partial shipment allowed: the rest waits"


def test_without_partial_shipment_one_short_line_holds_back_every_line() -> None:
    bk = book({(LAMP, HAM): 10, (MUG, HAM): 1})
    plan = plan_order(bk, needs((LAMP, 2), (MUG, 2)), sites((HAM, 5)), channel())
    assert (plan.allocations, plan.missing) == ([], {0: 2, 1: 2})
    assert bk.available(LAMP) == 10


# kits -----------------------------------------------------------------------------------------


def test_two_kits_sharing_a_component_cannot_take_it_twice() -> None:
    # Line 1: a kit needing 3 mugs and 3 tea; line 2: a kit needing 3 mugs. Five mugs.
    bk = book({(MUG, HAM): 5, (TEA, HAM): 10})
    kits = needs((MUG, 3), (TEA, 3), (MUG, 3), line_nos=(1, 1, 2))
    plan = plan_order(bk, kits, sites((HAM, 0)), channel())
    assert plan.allocations == []
    assert bk.available(MUG) == 5
    # Allowed to ship in part, the mugs still go round only once.
    partial = plan_order(bk, kits, sites((HAM, 0)), channel(allow_partial=True))
    mugs = sum(a.qty for n, a in partial.allocations if n.sku_id == MUG)
    assert mugs == 5
    assert partial.missing == {2: 1}
    assert bk.available(MUG) == 0


# ring fences ----------------------------------------------------------------------------------


def test_a_ring_fence_keeps_units_from_other_channels_and_is_drawn_by_its_own() -> None:
    bk = book({(LAMP, HAM): 10}, fences={(LAMP, HAM, WEB): 4})
    market = channel(id=MARKET, code="market")
    assert bk.available(LAMP, HAM, channel=MARKET) == 6
    assert bk.available(LAMP, HAM, channel=WEB) == 10
    assert plan_order(bk, needs((LAMP, 7)), sites((HAM, 0)), market).allocations == []
    assert plan_order(bk, needs((LAMP, 6)), sites((HAM, 0)), market).complete
    web = plan_order(bk, needs((LAMP, 4)), sites((HAM, 0)), channel())
    assert web.complete
    assert dict(bk.fence_draws) == {(LAMP, HAM, WEB): 4}
    assert bk.available(LAMP, HAM, channel=WEB) == 0


# lots -----------------------------------------------------------------------------------------


def test_within_a_location_the_first_expiring_lot_goes_first_and_expired_never() -> None:
    bk = book(
        {},
        lots=[
            (MUG, HAM, "LATER", 10, 30),
            (MUG, HAM, "SOON", 3, 3),
            (MUG, HAM, "GONE", 5, 0),  # expires today: not sellable
            (MUG, CGN, "SOONEST", 9, 1),  # another location: the nearest comes first
        ],
    )
    plan = plan_order(bk, needs((MUG, 5)), sites((HAM, 0), (CGN, 300)), channel())
    lots = [(bk.candidate(a.position_id).lot_code, a.qty) for _, a in plan.allocations]
    assert lots == [("SOON", 3), ("LATER", 2)]
    assert bk.available(MUG, HAM) == 8


# the lifecycle table --------------------------------------------------------------------------


def test_the_happy_path_from_draft_to_closed() -> None:
    status = OrderStatus.DRAFT
    for event in (
        OrderEvent.ALLOCATE,
        OrderEvent.RELEASE,
        OrderEvent.START_PICKING,
        OrderEvent.PACK,
        OrderEvent.SHIP,
        OrderEvent.DELIVER,
        OrderEvent.CLOSE,
    ):
        status = next_status(status, event)
    assert status is OrderStatus.CLOSED


def test_every_step_not_in_the_table_is_an_illegal_transition() -> None:
    illegal = 0
    for state in OrderStatus:
        for event in OrderEvent:
            if (state, event) in TRANSITIONS:
                assert next_status(state.value, event) is TRANSITIONS[(state, event)]
                continue
            illegal += 1
            with pytest.raises(IllegalTransition) as caught:
                next_status(state.value, event)
            assert caught.value.field == "status"
    assert illegal == len(OrderStatus) * len(OrderEvent) - len(TRANSITIONS)
    with pytest.raises(IllegalTransition) as shipped:
        next_status("shipped", OrderEvent.CANCEL)
    assert shipped.value.detail == "an order that is shipped cannot cancel"


def test_an_order_can_be_cancelled_until_it_is_packed_and_never_leaves_closed() -> None:
    cancellable = {s for s in OrderStatus if (s, OrderEvent.CANCEL) in TRANSITIONS}
    assert cancellable == {
        OrderStatus.DRAFT,
        OrderStatus.ON_HOLD,
        OrderStatus.ALLOCATED,
        OrderStatus.PARTIALLY_ALLOCATED,
        OrderStatus.BACKORDERED,
        OrderStatus.RELEASED,
        OrderStatus.PICKING,
    }
    assert all(TRANSITIONS[(s, OrderEvent.CANCEL)] is OrderStatus.CANCELLED for s in cancellable)
    assert not [key for key in TRANSITIONS if key[0] is OrderStatus.CLOSED]
    finished = {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED}
    assert set(OrderStatus) - OPEN_STATES == finished | {OrderStatus.CLOSED}


def test_a_backordered_order_can_be_held_and_a_held_one_can_only_be_decided() -> None:
    assert next_status("backordered", OrderEvent.HOLD) is OrderStatus.ON_HOLD
    for event in (OrderEvent.RELEASE, OrderEvent.SHIP, OrderEvent.HOLD):
        with pytest.raises(IllegalTransition):
            next_status("on_hold", event)


@pytest.mark.parametrize(
    ("ordered", "allocated", "event"),
    [
        (5, 5, OrderEvent.ALLOCATE),
        (5, 3, OrderEvent.ALLOCATE_PART),
        (5, 0, OrderEvent.BACKORDER),
        (0, 0, OrderEvent.ALLOCATE),  # every line cancelled: nothing left to wait for
    ],
)
def test_allocation_decides_the_next_event(ordered: int, allocated: int, event: OrderEvent) -> None:
    assert status_after_allocation(ordered=ordered, allocated=allocated) is event


# backorder policies ----------------------------------------------------------------------------


def test_backorder_policies() -> None:
    soon, later = TODAY + timedelta(days=7), TODAY + timedelta(days=8)
    allow = channel()
    reject = channel(backorder_policy=BackorderPolicy.REJECT)
    week = channel(backorder_policy=BackorderPolicy.ALLOW_DAYS, backorder_days=7)
    assert allow.accepts_backorder(None, TODAY)
    assert not reject.accepts_backorder(TODAY, TODAY)
    assert week.accepts_backorder(soon, TODAY)
    assert not week.accepts_backorder(later, TODAY)
    assert not week.accepts_backorder(None, TODAY)  # no date known: no promise to keep


def test_a_policy_is_checked_with_its_days() -> None:
    assert checked_policy("allow_days", 3) == (BackorderPolicy.ALLOW_DAYS, 3)
    assert checked_policy("reject", 3) == (BackorderPolicy.REJECT, None)
    with pytest.raises(InvalidInput) as unknown:
        checked_policy("sometimes", None)
    assert unknown.value.field == "backorder_policy"
    for days in (None, -1):
        with pytest.raises(InvalidInput) as no_days:
            checked_policy("allow_days", days)
        assert no_days.value.field == "backorder_days"


def test_channel_and_kit_definitions_are_checked() -> None:
    with pytest.raises(InvalidInput) as splits:
        NewChannel("web", "Web", max_splits=0).checked()
    assert splits.value.field == "max_splits"
    with pytest.raises(InvalidInput):
        NewChannel("web", "Web", hold_over_value=Decimal("-1")).checked()
    assert NewChannel(" web ", "").checked().code == "web"
    with pytest.raises(InvalidInput) as itself:
        KitRecipe("BOX", {"BOX": 1}).checked()
    assert itself.value.field == "components.BOX"
    for qty in (0, True, 1.5):
        with pytest.raises(InvalidInput):
            KitRecipe("BOX", {"MUG": qty}).checked()  # type: ignore[dict-item]


# distance ---------------------------------------------------------------------------------------


def test_distances_are_great_circle_kilometres() -> None:
    assert distance_km(HAMBURG, MUNICH) == pytest.approx(612, abs=3)
    assert distance_km(MUNICH, COLOGNE) == pytest.approx(457, abs=3)
    assert distance_km(HAMBURG, MUNICH) == pytest.approx(distance_km(MUNICH, HAMBURG))
    assert distance_km(MUNICH, MUNICH) == 0
    assert distance_km((0.0, 0.0), (0.0, 180.0)) == pytest.approx(20015, abs=1)


def test_unknown_distances_come_after_every_known_one() -> None:
    assert distance_km(None, MUNICH) is None
    assert distance_km(HAMBURG, None) is None
    bk = book({(LAMP, HAM): 5, (LAMP, CGN): 5})
    known_far = [Site(CGN, "CGN", None), Site(HAM, "HAM", 9000.0)]
    assert plan_order(bk, needs((LAMP, 1)), known_far, channel()).decisions == [
        "ships whole from HAM (9000 km)"
    ]
    unknown = [Site(HAM, "HAM", None), Site(CGN, "CGN", None)]
    plan = plan_order(bk, needs((LAMP, 6)), unknown, channel(max_splits=2))
    assert plan.decisions[-2:] == ["split: CGN gives 5 LAMP", "split: HAM gives 1 LAMP"]
