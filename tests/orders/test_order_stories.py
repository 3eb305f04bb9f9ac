"""Order management as the warehouse and customer service live it, on SQLite and PostgreSQL.

Each story plays one of DESIGN.md's failure patterns, or one rule a channel
sets, from the first order to the last receipt, and ends with the books
balanced: ``verify`` is clean, every position's allocated equals what open
orders hold there, and no cancelled or finished order holds a unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from order_shop import (
    COLOGNE,
    HAMBURG,
    MUNICH,
    Clock,
    add_channel,
    add_customer,
    add_skus,
    allocated_at,
    assert_books_balance,
    free_of,
    open_shop,
    order,
    stock,
)
from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock, InvalidInput, StockflowError
from stockflow.orders.rules.parties import KitRecipe
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.catalogue import NewSku
from stockflow.stock.rules.commands import CaptureOrder
from stockflow.stock.rules.order_lifecycle import IllegalTransition


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """Warehouses in Hamburg (HAM), Cologne (CGN) and Munich (MUC); no SKUs, no channels."""
    sf = open_shop(db_url, clock)
    yield sf
    sf.close()


def captured(sf: Stockflow, *cmds: CaptureOrder) -> list[OrderView]:
    """Capture a batch in one transaction; every order in it must be taken."""
    outcomes = sf.orders.capture_many(cmds)
    for outcome in outcomes:
        assert isinstance(outcome, OrderView), outcome
    return [o for o in outcomes if isinstance(o, OrderView)]


def status_of(sf: Stockflow, *orders: OrderView) -> list[str]:
    return [sf.orders.order(o.id).status for o in orders]


def lines_of(view: OrderView) -> list[tuple[str, int, int, int, int]]:
    """(sku, allocated, shipped, cancelled, waiting) per line."""
    return [(ln.sku, ln.allocated, ln.shipped, ln.cancelled, ln.waiting) for ln in view.lines]


def open_exceptions(sf: Stockflow, order_id: str) -> set[str]:
    return {e.kind for e in sf.orders.exceptions() if e.order_id == order_id and e.state == "open"}


# 3. allocation races across channels --------------------------------------------------


def test_a_marketplace_that_comes_first_cannot_take_the_units_fenced_for_the_web_shop(
    shop: Stockflow,
) -> None:
    sf = shop
    add_skus(sf, "LAMP")
    add_channel(sf, "web", priority=10)
    add_channel(sf, "market", kind="marketplace", priority=1, backorder_policy="reject")
    stock(sf, "LAMP", 10)
    sf.orders.set_ring_fence(channel="web", sku="LAMP", location="HAM", qty=4)

    # Monday 09:00: the marketplace is first through the door and wants 8.
    with pytest.raises(InsufficientStock) as refused:
        sf.orders.capture(order("market", ("LAMP", 8), external_id="MP-1"))
    assert (refused.value.sku, refused.value.requested, refused.value.available) == ("LAMP", 8, 6)
    assert allocated_at(sf, "LAMP") == {}  # a refusal writes nothing
    assert sf.orders.capture(order("market", ("LAMP", 6), external_id="MP-2")).status == (
        "allocated"
    )
    # Four lamps are still on the shelf, but not for the marketplace.
    assert free_of(sf, "LAMP") == 4
    with pytest.raises(InsufficientStock):
        sf.orders.capture(order("market", ("LAMP", 1), external_id="MP-3"))

    # 09:05: the web shop's customers arrive and find their lamps.
    web = sf.orders.capture(order("web", ("LAMP", 4), external_id="W-1"))
    assert web.status == "allocated"
    assert lines_of(web) == [("LAMP", 4, 0, 0, 0)]
    assert allocated_at(sf, "LAMP") == {"HAM": 10}
    assert_books_balance(sf)


def test_the_fence_only_holds_back_what_it_fences(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "LAMP")
    add_channel(sf, "web", priority=10)
    add_channel(sf, "market", kind="marketplace", priority=1)
    stock(sf, "LAMP", 10)
    sf.orders.set_ring_fence(channel="web", sku="LAMP", location="HAM", qty=4)
    # The web shop spends its fence; what the fence held is then gone from it.
    sf.orders.capture(order("web", ("LAMP", 3)))
    sf.orders.capture(order("web", ("LAMP", 3)))  # one fenced unit and two free ones
    # Four are left, all free to anyone: the fence is used up.
    assert sf.orders.capture(order("market", ("LAMP", 4))).status == "allocated"
    assert allocated_at(sf, "LAMP") == {"HAM": 10}
    assert_books_balance(sf)


def test_in_one_batch_the_higher_priority_channel_is_served_first(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "CONSOLE")
    add_channel(sf, "web", priority=10)
    add_channel(sf, "market", kind="marketplace", priority=1)
    stock(sf, "CONSOLE", 10)
    # A sheet of orders arrives at once; the marketplace row happens to come first.
    market, web = captured(
        sf,
        order("market", ("CONSOLE", 8), external_id="MP-9"),
        order("web", ("CONSOLE", 8), external_id="W-9"),
    )
    assert (web.status, market.status) == ("allocated", "backordered")
    assert lines_of(market) == [("CONSOLE", 0, 0, 0, 8)]
    assert "atp_failure" in open_exceptions(sf, market.id)
    assert_books_balance(sf)

    # The web customer cancels: the marketplace order gets the consoles at once.
    sf.orders.cancel(web.id, reason="customer cancelled")
    assert status_of(sf, market) == ["allocated"]
    assert "atp_failure" not in open_exceptions(sf, market.id)
    assert allocated_at(sf, "CONSOLE") == {"HAM": 8}
    assert_books_balance(sf)


# 4. ghost reservations ------------------------------------------------------------------


def test_a_cancelled_orders_stock_is_available_to_the_very_next_order(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "KETTLE")
    add_channel(sf, "phone", kind="phone", backorder_policy="reject")
    stock(sf, "KETTLE", 5)
    first = sf.orders.capture(order("phone", ("KETTLE", 5)))
    with pytest.raises(InsufficientStock):
        sf.orders.capture(order("phone", ("KETTLE", 5)))

    cancelled = sf.orders.cancel(first.id, reason="customer changed their mind", actor="cs-ina")
    assert cancelled.status == "cancelled"
    assert lines_of(cancelled) == [("KETTLE", 0, 0, 5, 0)]
    assert cancelled.decisions[-1] == "order cancelled: customer changed their mind"
    assert allocated_at(sf, "KETTLE") == {}
    assert_books_balance(sf)

    second = sf.orders.capture(order("phone", ("KETTLE", 5)))
    assert second.status == "allocated"
    assert_books_balance(sf)


def test_cancelling_one_line_frees_that_line_only(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "CUP", "SAUCER", "SPOON")
    add_channel(sf, "web", allow_partial=True)
    stock(sf, "CUP", 10)
    stock(sf, "SAUCER", 10)
    tea_set = sf.orders.capture(order("web", ("CUP", 4), ("SAUCER", 4)))
    after = sf.orders.cancel(tea_set.id, reason="saucers not wanted", line_no=2)
    assert after.status == "allocated"
    assert lines_of(after) == [("CUP", 4, 0, 0, 0), ("SAUCER", 0, 0, 4, 0)]
    assert "line 2 cancelled: saucers not wanted" in after.decisions
    assert (allocated_at(sf, "CUP"), allocated_at(sf, "SAUCER")) == ({"HAM": 4}, {})
    with pytest.raises(InvalidInput) as no_line:
        sf.orders.cancel(tea_set.id, reason="typo", line_no=3)
    assert no_line.value.field == "line_no"
    # Cancelling the last live line cancels the order.
    assert sf.orders.cancel(tea_set.id, reason="all gone", line_no=1).status == "cancelled"
    assert allocated_at(sf, "CUP") == {}
    assert_books_balance(sf)

    # The spoons are not in: cancelling the waiting line leaves an order that is complete.
    breakfast = sf.orders.capture(order("web", ("CUP", 2), ("SPOON", 3)))
    assert breakfast.status == "partially_allocated"
    done = sf.orders.cancel(breakfast.id, reason="spoons dropped", line_no=2)
    assert done.status == "allocated"
    assert lines_of(done) == [("CUP", 2, 0, 0, 0), ("SPOON", 0, 0, 3, 0)]
    # A receipt of spoons now finds no one waiting for them.
    stock(sf, "SPOON", 5)
    assert allocated_at(sf, "SPOON") == {}
    assert_books_balance(sf)


def test_cancelling_the_missing_line_lets_the_rest_of_the_order_go(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "CUP", "SAUCER")
    add_channel(sf, "b2b", kind="wholesale")  # all or nothing
    stock(sf, "CUP", 10)
    cafe = sf.orders.capture(order("b2b", ("CUP", 6), ("SAUCER", 6)))
    assert (cafe.status, allocated_at(sf, "CUP")) == ("backordered", {})
    # The café will do without saucers: the cups are on the shelf and go now.
    after = sf.orders.cancel(cafe.id, reason="saucers not needed", line_no=2)
    assert after.status == "allocated"
    assert lines_of(after) == [("CUP", 6, 0, 0, 0), ("SAUCER", 0, 0, 6, 0)]
    assert allocated_at(sf, "CUP") == {"HAM": 6}
    assert_books_balance(sf)


# backorders and promise dates ---------------------------------------------------------------


def test_a_receipt_fills_backorders_by_priority_then_oldest_first(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    add_skus(sf, "BIKE")
    add_channel(sf, "web", priority=10)
    add_channel(sf, "market", kind="marketplace", priority=1)
    early = sf.orders.capture(order("market", ("BIKE", 3)))
    clock.advance(minutes=5)
    vip = sf.orders.capture(order("web", ("BIKE", 3)))
    clock.advance(minutes=5)
    late = sf.orders.capture(order("market", ("BIKE", 3)))
    assert status_of(sf, early, vip, late) == ["backordered"] * 3

    # Four bikes come in: the web shop outranks the marketplace order that came first.
    stock(sf, "BIKE", 4)
    assert status_of(sf, early, vip, late) == ["backordered", "allocated", "backordered"]
    assert any(
        d.startswith("backorder fill: ships whole from HAM")
        for d in sf.orders.order(vip.id).decisions
    )
    assert "atp_failure" not in open_exceptions(sf, vip.id)
    # One bike is free, but neither marketplace order takes part of a bike order.
    assert free_of(sf, "BIKE") == 1
    # Two more: now three are free and the older marketplace order goes first.
    stock(sf, "BIKE", 2)
    assert status_of(sf, early, vip, late) == ["allocated", "allocated", "backordered"]
    stock(sf, "BIKE", 3)
    assert status_of(sf, early, vip, late) == ["allocated"] * 3
    assert allocated_at(sf, "BIKE") == {"HAM": 9}
    assert_books_balance(sf)


def test_promise_dates_come_from_incoming_supply_and_queue_behind_earlier_backorders(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    add_skus(sf, "DESK")
    add_channel(sf, "web")
    today = clock.today()
    sf.orders.add_supply(
        kind="purchase", reference="PO-1", sku="DESK", location="HAM", qty=5,
        expected_on=today + timedelta(days=3),
    )  # fmt: skip
    sf.orders.add_supply(
        kind="transfer", reference="TR-7", sku="DESK", location="CGN", qty=10,
        expected_on=today + timedelta(days=10),
    )  # fmt: skip
    first = sf.orders.capture(order("web", ("DESK", 4)))
    assert (first.status, first.promise_date) == ("backordered", today + timedelta(days=3))
    assert f"promised for {today + timedelta(days=3)}" in first.decisions
    # The first order claims four of the five on PO-1: the second waits for the transfer.
    second = sf.orders.capture(order("web", ("DESK", 4)))
    assert second.promise_date == today + timedelta(days=10)
    # 4 + 4 + 10 is more than anything on the way.
    third = sf.orders.capture(order("web", ("DESK", 10)))
    assert (third.status, third.promise_date) == ("backordered", None)
    assert "no incoming supply known: no promise date yet" in third.decisions
    assert_books_balance(sf)


def test_supply_recorded_after_a_backorder_gives_it_a_promise_date(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    add_skus(sf, "LAMP")
    add_channel(sf, "web")
    today = clock.today()
    waiting = sf.orders.capture(order("web", ("LAMP", 3)))
    assert (waiting.status, waiting.promise_date) == ("backordered", None)
    sf.orders.add_supply(
        kind="purchase", reference="PO-9", sku="LAMP", location="HAM", qty=5,
        expected_on=today + timedelta(days=6),
    )  # fmt: skip
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=6)
    sf.orders.add_supply(
        kind="transfer", reference="TR-2", sku="LAMP", location="HAM", qty=3,
        expected_on=today + timedelta(days=2),
    )  # fmt: skip
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=2)
    assert_books_balance(sf)


def test_orders_in_one_sheet_queue_for_supply_like_orders_one_by_one(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    add_skus(sf, "CHAIR")
    add_channel(sf, "sheet", kind="spreadsheet")
    today = clock.today()
    for days, qty, ref in ((3, 5, "PO-1"), (10, 10, "PO-2")):
        sf.orders.add_supply(
            kind="purchase", reference=ref, sku="CHAIR", location="HAM", qty=qty,
            expected_on=today + timedelta(days=days),
        )  # fmt: skip
    first, second = captured(sf, order("sheet", ("CHAIR", 4)), order("sheet", ("CHAIR", 4)))
    assert first.promise_date == today + timedelta(days=3)
    assert second.promise_date == today + timedelta(days=10)
    assert_books_balance(sf)


def test_the_promise_waits_only_for_what_is_missing(shop: Stockflow, clock: Clock) -> None:
    sf = shop
    add_skus(sf, "DESK", "CHAIR", "MUG", "SPOON", "TEA", "BREAKFAST", "TEATIME")
    sf.orders.set_kit(KitRecipe("BREAKFAST", {"MUG": 1, "SPOON": 1}))
    sf.orders.set_kit(KitRecipe("TEATIME", {"MUG": 1, "TEA": 1}))
    add_channel(sf, "week", backorder_policy="allow_days", backorder_days=7)
    today = clock.today()
    for sku, days, qty in (("CHAIR", 3, 5), ("MUG", 2, 3), ("MUG", 6, 6)):
        sf.orders.add_supply(
            kind="purchase", reference=f"PO-{sku}-{days}", sku=sku, location="HAM", qty=qty,
            expected_on=today + timedelta(days=days),
        )  # fmt: skip
    for sku in ("DESK", "SPOON", "TEA"):
        stock(sf, sku, 5)

    # The desk is on the shelf; the order waits for the chair alone.
    office = sf.orders.capture(order("week", ("DESK", 1), ("CHAIR", 1)))
    assert (office.status, office.promise_date) == ("backordered", today + timedelta(days=3))
    # Two kits share the mugs: four are missing, and day 2 brings only three.
    kits = sf.orders.capture(order("week", ("BREAKFAST", 2), ("TEATIME", 2)))
    assert kits.promise_date == today + timedelta(days=6)
    assert_books_balance(sf)


def test_each_channel_keeps_its_own_backorder_policy(shop: Stockflow, clock: Clock) -> None:
    sf = shop
    add_skus(sf, "TENT")
    add_channel(sf, "shop", backorder_policy="allow")
    add_channel(sf, "b2b", kind="wholesale", backorder_policy="reject")
    add_channel(sf, "week", backorder_policy="allow_days", backorder_days=7)
    today = clock.today()

    waiting = sf.orders.capture(order("shop", ("TENT", 2)))
    assert (waiting.status, waiting.promise_date) == ("backordered", None)
    for channel in ("b2b", "week"):  # no stock and no date: both say no
        with pytest.raises(InsufficientStock) as refused:
            sf.orders.capture(order(channel, ("TENT", 2)))
        assert refused.value.field == "lines[0].qty"

    # Tents are ordered from the supplier for day 10: too late for a seven-day promise.
    sf.orders.add_supply(
        kind="purchase", reference="PO-10", sku="TENT", location="HAM", qty=5,
        expected_on=today + timedelta(days=10),
    )  # fmt: skip
    with pytest.raises(InsufficientStock):
        sf.orders.capture(order("week", ("TENT", 2)))
    # A transfer for day 4 makes it in time.
    sf.orders.add_supply(
        kind="transfer", reference="TR-4", sku="TENT", location="CGN", qty=5,
        expected_on=today + timedelta(days=4),
    )  # fmt: skip
    week = sf.orders.capture(order("week", ("TENT", 2)))
    assert (week.status, week.promise_date) == ("backordered", today + timedelta(days=4))
    with pytest.raises(InsufficientStock):
        sf.orders.capture(order("b2b", ("TENT", 2)))

    # Only the two accepted orders were written, each with its ATP failure to look at.
    atp_failures = sf.orders.exceptions(kind="atp_failure")
    assert sorted(e.order_id or "" for e in atp_failures) == sorted([waiting.id, week.id])
    assert_books_balance(sf)


# holds ------------------------------------------------------------------------------------


def test_holds_stop_an_order_until_a_person_releases_or_cancels_it(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "TV", price="450.00")
    add_channel(sf, "web", hold_over_value=Decimal("500"), hold_new_customers=True)
    add_customer(sf, "anna", MUNICH)
    stock(sf, "TV", 10)

    # Anna has never ordered before: her first TV waits for a person (and keeps its unit).
    first = sf.orders.capture(order("web", ("TV", 1), customer="anna"))
    assert (first.status, first.hold_reason) == ("on_hold", "new customer anna")
    assert lines_of(first) == [("TV", 1, 0, 0, 0)]
    assert open_exceptions(sf, first.id) == {"order_on_hold"}
    released = sf.orders.release_hold(first.id, actor="cs-maria")
    assert (released.status, released.hold_reason) == ("allocated", None)
    assert open_exceptions(sf, first.id) == set()
    with pytest.raises(IllegalTransition):
        sf.orders.release_hold(first.id)

    # Anna is known now, but two TVs are worth more than the channel lets through.
    big = sf.orders.capture(order("web", ("TV", 2), customer="anna"))
    assert (big.status, big.hold_reason) == ("on_hold", "order value 900.00 is over 500.00")
    assert allocated_at(sf, "TV") == {"HAM": 3}
    rejected = sf.orders.cancel(big.id, reason="payment declined")
    assert rejected.status == "cancelled"
    assert open_exceptions(sf, big.id) == set()
    assert allocated_at(sf, "TV") == {"HAM": 1}

    # "Munich" alone is no address a carrier can deliver to.
    vague = sf.orders.capture(order("web", ("TV", 1), customer="anna", ship_to="Munich"))
    assert vague.status == "on_hold"
    assert vague.hold_reason == "address incomplete: give at least street and town"
    assert "on hold: address incomplete: give at least street and town" in vague.decisions
    assert_books_balance(sf)


def test_a_held_order_gets_the_stock_that_came_in_while_it_was_held(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "TV", price="450.00")
    add_channel(sf, "web", hold_over_value=Decimal("500"))
    held = sf.orders.capture(order("web", ("TV", 2)))
    assert (held.status, lines_of(held)) == ("on_hold", [("TV", 0, 0, 0, 2)])
    stock(sf, "TV", 2)  # arrives while a person is still looking at the order
    released = sf.orders.release_hold(held.id)
    assert released.status == "allocated"
    assert allocated_at(sf, "TV") == {"HAM": 2}
    assert_books_balance(sf)


# ship-from choice ---------------------------------------------------------------------------


def test_an_order_ships_whole_from_the_nearest_warehouse_that_can_ship_it(
    shop: Stockflow,
) -> None:
    sf = shop
    add_skus(sf, "SOFA")
    add_channel(sf, "web")
    add_channel(sf, "north", ship_from=("HAM",))
    add_customer(sf, "anna", MUNICH)
    add_customer(sf, "ben", HAMBURG)
    stock(sf, "SOFA", 3, "MUC")
    stock(sf, "SOFA", 10, "CGN")
    stock(sf, "SOFA", 10, "HAM")

    anna = sf.orders.capture(order("web", ("SOFA", 2), customer="anna"))
    assert anna.decisions[0] == "ships whole from MUC (0 km)"
    ben = sf.orders.capture(order("web", ("SOFA", 2), customer="ben"))
    assert ben.decisions[0] == "ships whole from HAM (0 km)"
    lat, lon = COLOGNE
    walk_in = sf.orders.capture(
        order("web", ("SOFA", 2), ship_to="Domkloster 4, 50667 Cologne",
              ship_to_latitude=lat, ship_to_longitude=lon)
    )  # fmt: skip
    assert walk_in.decisions[0] == "ships whole from CGN (0 km)"
    assert allocated_at(sf, "SOFA") == {"MUC": 2, "HAM": 2, "CGN": 2}

    # Munich has one sofa left; the next nearest warehouse that has all four is Cologne.
    four = sf.orders.capture(order("web", ("SOFA", 4), customer="anna"))
    assert four.decisions[0] == "MUC: 1 of 4 SOFA available"
    assert four.decisions[1].startswith("ships whole from CGN (")
    # A channel that may only ship from Hamburg does, however far the customer is.
    north = sf.orders.capture(order("north", ("SOFA", 1), customer="anna"))
    assert north.decisions[0].startswith("ships whole from HAM (")
    assert allocated_at(sf, "SOFA") == {"MUC": 2, "HAM": 3, "CGN": 6}
    assert_books_balance(sf)


def test_a_backorder_filled_later_still_ships_from_the_nearest_warehouse(
    shop: Stockflow,
) -> None:
    sf = shop
    add_skus(sf, "RUG")
    add_channel(sf, "web", max_splits=3)
    stock(sf, "RUG", 3, "HAM")
    stock(sf, "RUG", 3, "CGN")
    bulk = sf.orders.capture(order("web", ("RUG", 6)))
    assert allocated_at(sf, "RUG") == {"HAM": 3, "CGN": 3}
    lat, lon = HAMBURG
    hamburg = sf.orders.capture(
        order("web", ("RUG", 2), ship_to="Jungfernstieg 1, 20354 Hamburg",
              ship_to_latitude=lat, ship_to_longitude=lon)
    )  # fmt: skip
    assert hamburg.status == "backordered"
    sf.orders.cancel(bulk.id, reason="duplicate order")
    # Both warehouses have rugs again; the Hamburg customer's come from Hamburg.
    assert status_of(sf, hamburg) == ["allocated"]
    assert allocated_at(sf, "RUG") == {"HAM": 2}
    assert_books_balance(sf)


def test_an_order_splits_over_the_nearest_warehouses_up_to_the_channels_limit(
    shop: Stockflow,
) -> None:
    sf = shop
    add_skus(sf, "SHELF", "BOARD")
    add_channel(sf, "two", max_splits=2)
    add_channel(sf, "three", max_splits=3)
    add_customer(sf, "anna", MUNICH)
    for warehouse in ("HAM", "CGN", "MUC"):
        stock(sf, "SHELF", 3, warehouse)
        stock(sf, "BOARD", 3, warehouse)

    split = sf.orders.capture(order("two", ("SHELF", 5), customer="anna"))
    assert split.status == "allocated"
    assert allocated_at(sf, "SHELF") == {"MUC": 3, "CGN": 2}
    assert "split: MUC (0 km) gives 3 SHELF" in split.decisions
    # Nine boards are there, but not in two parcels: the two-parcel channel waits.
    too_many = sf.orders.capture(order("two", ("BOARD", 9), customer="anna"))
    assert (too_many.status, lines_of(too_many)) == ("backordered", [("BOARD", 0, 0, 0, 9)])
    assert (
        "no split over 2 location(s) fills the order (BOARD short 3); nothing allocated"
        in too_many.decisions
    )
    assert allocated_at(sf, "BOARD") == {}
    three = sf.orders.capture(order("three", ("BOARD", 9), customer="anna"))
    assert three.status == "allocated"
    assert allocated_at(sf, "BOARD") == {"MUC": 3, "CGN": 3, "HAM": 3}
    assert_books_balance(sf)


def test_an_empty_nearest_warehouse_does_not_use_up_a_split(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "SHELF")
    add_channel(sf, "two", max_splits=2)
    add_customer(sf, "anna", MUNICH)
    stock(sf, "SHELF", 3, "CGN")
    stock(sf, "SHELF", 3, "HAM")
    # Munich is nearest but has none; Cologne and Hamburg ship it in two parcels.
    split = sf.orders.capture(order("two", ("SHELF", 5), customer="anna"))
    assert split.status == "allocated"
    assert allocated_at(sf, "SHELF") == {"CGN": 3, "HAM": 2}
    assert_books_balance(sf)


def test_the_rest_of_a_part_shipped_order_stays_within_the_split_limit(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "PAINT")
    add_channel(sf, "retail", allow_partial=True)  # one location per order
    stock(sf, "PAINT", 3, "CGN")
    tins = sf.orders.capture(order("retail", ("PAINT", 5)))
    assert (tins.status, allocated_at(sf, "PAINT")) == ("partially_allocated", {"CGN": 3})
    # Two tins arrive in Hamburg; the order already ships from Cologne.
    stock(sf, "PAINT", 2, "HAM")
    assert lines_of(sf.orders.order(tins.id)) == [("PAINT", 3, 0, 0, 2)]
    assert allocated_at(sf, "PAINT") == {"CGN": 3}
    stock(sf, "PAINT", 2, "CGN")
    assert lines_of(sf.orders.order(tins.id)) == [("PAINT", 5, 0, 0, 0)]
    assert allocated_at(sf, "PAINT") == {"CGN": 5}
    assert_books_balance(sf)


# partial shipment -------------------------------------------------------------------------


def test_partial_shipment_is_the_channels_choice(shop: Stockflow, clock: Clock) -> None:
    sf = shop
    add_skus(sf, "PEN", "INK")
    add_channel(sf, "retail", allow_partial=True)
    add_channel(sf, "b2b", kind="wholesale")
    stock(sf, "PEN", 3)
    stock(sf, "INK", 10)

    retail = sf.orders.capture(order("retail", ("PEN", 5)))
    assert (retail.status, lines_of(retail)) == ("partially_allocated", [("PEN", 3, 0, 0, 2)])
    assert "partial shipment allowed: the rest waits" in retail.decisions
    clock.advance(minutes=1)
    b2b = sf.orders.capture(order("b2b", ("PEN", 5)))
    assert (b2b.status, lines_of(b2b)) == ("backordered", [("PEN", 0, 0, 0, 5)])
    # All or nothing covers every line: the ink waits with the pens.
    clock.advance(minutes=1)
    mixed = sf.orders.capture(order("b2b", ("INK", 2), ("PEN", 1)))
    assert lines_of(mixed) == [("INK", 0, 0, 0, 2), ("PEN", 0, 0, 0, 1)]
    assert allocated_at(sf, "INK") == {}

    stock(sf, "PEN", 2)  # the oldest waiting order is the partial one: it completes
    assert status_of(sf, retail, b2b, mixed) == ["allocated", "backordered", "backordered"]
    stock(sf, "PEN", 6)
    assert status_of(sf, retail, b2b, mixed) == ["allocated"] * 3
    assert allocated_at(sf, "PEN") == {"HAM": 11}
    assert_books_balance(sf)


# kits ---------------------------------------------------------------------------------------


def test_a_kit_is_only_as_available_as_its_scarcest_component(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "MUG", "TEA", "GIFTBOX")
    sf.orders.set_kit(KitRecipe("GIFTBOX", {"MUG": 1, "TEA": 2}))
    add_channel(sf, "web", backorder_policy="reject")
    stock(sf, "MUG", 5)
    stock(sf, "TEA", 6)  # three boxes' worth of tea

    with pytest.raises(InsufficientStock) as four:
        sf.orders.capture(order("web", ("GIFTBOX", 4)))
    assert (four.value.sku, four.value.requested, four.value.available) == ("TEA", 8, 6)
    assert allocated_at(sf, "MUG") == {}
    boxes = sf.orders.capture(order("web", ("GIFTBOX", 3)))
    assert (boxes.status, lines_of(boxes)) == ("allocated", [("GIFTBOX", 3, 0, 0, 0)])
    assert (allocated_at(sf, "MUG"), allocated_at(sf, "TEA")) == ({"HAM": 3}, {"HAM": 6})
    with pytest.raises(InsufficientStock) as none_left:
        sf.orders.capture(order("web", ("GIFTBOX", 1)))
    assert (none_left.value.sku, none_left.value.available) == ("TEA", 0)
    # Two mugs are still free for anyone buying a mug on its own.
    assert sf.orders.capture(order("web", ("MUG", 2))).status == "allocated"
    assert_books_balance(sf)


def test_two_kits_sharing_a_component_in_one_order_never_oversell_it(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "MUG", "SPOON", "TEA", "BREAKFAST", "TEATIME")
    sf.orders.set_kit(KitRecipe("BREAKFAST", {"MUG": 1, "SPOON": 1}))
    sf.orders.set_kit(KitRecipe("TEATIME", {"MUG": 1, "TEA": 1}))
    add_channel(sf, "web", backorder_policy="reject")
    add_channel(sf, "retail", allow_partial=True)
    for sku in ("MUG", "SPOON", "TEA"):
        stock(sf, sku, 5)

    # Each kit alone fits; together they want six mugs of five.
    with pytest.raises(InsufficientStock):
        sf.orders.capture(order("web", ("BREAKFAST", 3), ("TEATIME", 3)))
    assert allocated_at(sf, "MUG") == {}
    both = sf.orders.capture(order("web", ("BREAKFAST", 3), ("TEATIME", 2)))
    assert lines_of(both) == [("BREAKFAST", 3, 0, 0, 0), ("TEATIME", 2, 0, 0, 0)]
    assert allocated_at(sf, "MUG") == {"HAM": 5}
    sf.orders.cancel(both.id, reason="test order")

    # Even where a part may ship now, the mugs go round once.
    part = sf.orders.capture(order("retail", ("BREAKFAST", 4), ("TEATIME", 4)))
    assert part.status == "partially_allocated"
    assert sum(ln.allocated for ln in part.lines) == 5
    assert allocated_at(sf, "MUG") == {"HAM": 5}
    assert_books_balance(sf)


def test_a_half_allocated_kit_takes_only_the_parts_it_still_lacks(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "MUG", "TEA", "GIFTBOX")
    sf.orders.set_kit(KitRecipe("GIFTBOX", {"MUG": 1, "TEA": 2}))
    add_channel(sf, "retail", allow_partial=True)
    stock(sf, "MUG", 8)
    stock(sf, "TEA", 6)
    boxes = sf.orders.capture(order("retail", ("GIFTBOX", 5)))
    # Five mugs but tea for three boxes: three boxes are ready, two wait for tea.
    assert lines_of(boxes) == [("GIFTBOX", 3, 0, 0, 2)]
    assert allocated_at(sf, "MUG") == {"HAM": 5}
    stock(sf, "TEA", 4)
    assert lines_of(sf.orders.order(boxes.id)) == [("GIFTBOX", 5, 0, 0, 0)]
    # Five boxes take five mugs, not seven: three stay free.
    assert allocated_at(sf, "MUG") == {"HAM": 5}
    assert free_of(sf, "MUG") == 3
    assert_books_balance(sf)


def test_cancelling_a_kit_that_holds_only_some_parts_frees_those_parts(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "MUG", "TEA", "GIFTBOX")
    sf.orders.set_kit(KitRecipe("GIFTBOX", {"MUG": 1, "TEA": 2}))
    add_channel(sf, "retail", allow_partial=True)
    stock(sf, "MUG", 4)
    # No tea at all: the mugs are held for boxes that cannot be packed yet.
    boxes = sf.orders.capture(order("retail", ("GIFTBOX", 2), ("MUG", 1)))
    assert lines_of(boxes) == [("GIFTBOX", 0, 0, 0, 2), ("MUG", 1, 0, 0, 0)]
    assert allocated_at(sf, "MUG") == {"HAM": 3}
    sf.orders.cancel(boxes.id, reason="no tea this month", line_no=1)
    assert allocated_at(sf, "MUG") == {"HAM": 1}
    assert_books_balance(sf)
    sf.orders.cancel(boxes.id, reason="changed mind")
    assert allocated_at(sf, "MUG") == {}
    assert_books_balance(sf)


# lots ---------------------------------------------------------------------------------------


def test_an_order_takes_the_first_expiring_lot_and_never_an_expired_one(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    sf.add_skus([NewSku("MILK", "Milk 1l", lot_tracked=True)])
    add_channel(sf, "web")
    today = clock.today()
    stock(sf, "MILK", 10, lot="L-LATER", expires_on=today + timedelta(days=30))
    stock(sf, "MILK", 3, lot="L-SOON", expires_on=today + timedelta(days=3))
    stock(sf, "MILK", 5, lot="L-GONE", expires_on=today + timedelta(days=1))
    clock.advance(days=1)  # L-GONE expires today

    milk = sf.orders.capture(order("web", ("MILK", 5)))
    held = sf.reservation(milk.reservation_id)
    assert sorted((a.lot, a.qty) for a in held.allocations) == [("L-LATER", 2), ("L-SOON", 3)]
    # Eight good units remain; the five expired ones are not promised to anyone.
    rest = sf.orders.capture(order("web", ("MILK", 9)))
    assert (rest.status, lines_of(rest)) == ("backordered", [("MILK", 0, 0, 0, 9)])
    assert sf.orders.capture(order("web", ("MILK", 8))).status == "allocated"
    assert_books_balance(sf)


# idempotent ingest --------------------------------------------------------------------------


def test_the_same_order_sent_twice_is_one_order(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "BOOK")
    add_channel(sf, "web")
    add_channel(sf, "market", kind="marketplace")
    stock(sf, "BOOK", 10)

    first = sf.orders.capture(order("web", ("BOOK", 2), external_id="WEB-1001"))
    again = sf.orders.capture(order("web", ("BOOK", 2), external_id="WEB-1001"))
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert allocated_at(sf, "BOOK") == {"HAM": 2}
    # The same number on another channel is another order.
    other = sf.orders.capture(order("market", ("BOOK", 2), external_id="WEB-1001"))
    assert other.id != first.id

    # A client retries after a timeout with the same idempotency key.
    keyed = sf.orders.capture(order("web", ("BOOK", 1), idempotency_key="req-7f3a"))
    retried = sf.orders.capture(order("web", ("BOOK", 1), idempotency_key="req-7f3a"))
    assert (retried.id, retried.replayed) == (keyed.id, True)

    # A sheet that lists the same order twice, and again one already taken.
    a, b, c = captured(
        sf,
        order("web", ("BOOK", 1), external_id="WEB-1002"),
        order("web", ("BOOK", 1), external_id="WEB-1002"),
        order("web", ("BOOK", 2), external_id="WEB-1001"),
    )
    assert (b.id, b.replayed, a.replayed) == (a.id, True, False)
    assert (c.id, c.replayed) == (first.id, True)
    assert allocated_at(sf, "BOOK") == {"HAM": 2 + 2 + 1 + 1}
    assert_books_balance(sf)


# lifecycle ----------------------------------------------------------------------------------


def test_an_order_cannot_go_where_the_transition_table_has_no_step(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "HAT")
    add_channel(sf, "web")
    stock(sf, "HAT", 3)
    hat = sf.orders.capture(order("web", ("HAT", 1)))
    sf.orders.cancel(hat.id, reason="wrong size")
    with pytest.raises(IllegalTransition) as twice:
        sf.orders.cancel(hat.id, reason="again")
    assert str(twice.value) == "field 'status': an order that is cancelled cannot cancel"
    with pytest.raises(IllegalTransition):
        sf.orders.cancel(hat.id, reason="one line", line_no=1)
    with pytest.raises(IllegalTransition):
        sf.orders.release_hold(hat.id)
    with pytest.raises(StockflowError):
        sf.orders.cancel("no-such-order", reason="?")
    assert sf.orders.order(hat.id).decisions[-1] == "order cancelled: wrong size"
    assert_books_balance(sf)


# exceptions ---------------------------------------------------------------------------------


def test_late_and_stuck_orders_are_raised_once_and_resolved(shop: Stockflow, clock: Clock) -> None:
    sf = shop
    add_skus(sf, "GRILL", "COAL")
    add_channel(sf, "web")
    today = clock.today()
    sf.orders.add_supply(
        kind="purchase", reference="PO-G", sku="GRILL", location="HAM", qty=5,
        expected_on=today + timedelta(days=2),
    )  # fmt: skip
    stock(sf, "COAL", 5)
    grill = sf.orders.capture(order("web", ("GRILL", 2)))
    coal = sf.orders.capture(order("web", ("COAL", 1)))
    assert open_exceptions(sf, grill.id) == {"atp_failure"}
    assert sf.orders.flag_late_and_stuck(stuck_hours=48) == 0

    clock.advance(days=3)  # the supplier is late and nobody has touched either order
    fresh = sf.orders.capture(order("web", ("COAL", 1)))
    assert sf.orders.flag_late_and_stuck(stuck_hours=48) == 3
    assert sf.orders.flag_late_and_stuck(stuck_hours=48) == 0  # raised once, not every run
    assert open_exceptions(sf, grill.id) == {"atp_failure", "late_backorder", "stuck_order"}
    assert open_exceptions(sf, coal.id) == {"stuck_order"}
    assert open_exceptions(sf, fresh.id) == set()
    [late] = sf.orders.exceptions(kind="late_backorder")
    assert late.message == f"backorder promised for {today + timedelta(days=2)} is late"

    [coal_stuck] = [e for e in sf.orders.exceptions(kind="stuck_order") if e.order_id == coal.id]
    assert sf.orders.set_exception_state(coal_stuck.id, "acknowledged").state == "acknowledged"
    with pytest.raises(InvalidInput):
        sf.orders.set_exception_state(coal_stuck.id, "open")

    # The grills arrive: the backorder is filled and its ATP and lateness exceptions close.
    stock(sf, "GRILL", 2)
    assert status_of(sf, grill) == ["allocated"]
    assert open_exceptions(sf, grill.id) == set()  # progress: not stuck any more
    # Cancelling closes whatever the order still had open.
    sf.orders.cancel(coal.id, reason="out of season")
    assert {e.state for e in sf.orders.exceptions() if e.order_id == coal.id} == {"resolved"}
    assert_books_balance(sf)


def test_verify_names_a_cancelled_order_that_still_holds_stock(shop: Stockflow) -> None:
    sf = shop
    add_skus(sf, "VASE")
    add_channel(sf, "web")
    stock(sf, "VASE", 4)
    vase = sf.orders.capture(order("web", ("VASE", 2)))
    assert_books_balance(sf)
    # A bad manual fix marks the order cancelled without releasing its units.
    with sf.db.write() as conn:
        conn.execute(text("UPDATE orders SET status = 'cancelled' WHERE id = :id"), {"id": vase.id})
    [drift] = sf.verify()
    assert (drift.invariant, drift.subject, drift.expected, drift.actual) == (
        "I3",
        f"order {vase.id}",
        0,
        2,
    )
