"""Cycle counts as the warehouse lives them, on SQLite and PostgreSQL.

Hamburg has two aisles: zone A (bins A-01, A-02) and zone B (B-01). Counters
count blind; small differences fix themselves, big ones wait for a second
person, and a bin found short of what customers were promised gives those
promises back and finds the stock elsewhere (or tells customer service).
Every story ends with the books balanced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from order_shop import Clock, add_channel, assert_books_balance, open_shop, order
from stockflow.adapters.tables import stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.counts.queries import CountView, SheetLine
from stockflow.counts.rules import CountScope, IllegalCountStep, SamePerson
from stockflow.errors import Conflict, IdempotencyKeyReused, InvalidInput, StockflowError
from stockflow.floor.picking import WaveRequest
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.stock.rules.catalogue import NewBin, NewSku
from stockflow.stock.rules.commands import Place, PostMove

ZONE_A = CountScope("zone", zone="A")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """HAM with bins A-01, A-02 (zone A) and B-01 (zone B); channels web (10) and market (1)."""
    sf = open_shop(db_url, clock)
    sf.add_bins(
        [
            NewBin("HAM", "A-01", "A", 1),
            NewBin("HAM", "A-02", "A", 2),
            NewBin("HAM", "B-01", "B", 3),
        ]
    )
    sf.add_skus(
        [NewSku(code, f"Item {code}", unit_price=Decimal(price))
         for code, price in (("BOLT", "1"), ("NUT", "0.5"), ("WASHER", "0.1"))]
    )  # fmt: skip
    add_channel(sf, "web", priority=10, ship_from=("HAM",))
    add_channel(sf, "market", kind="marketplace", priority=1, ship_from=("HAM",))
    yield sf
    sf.close()


def put(sf: Stockflow, sku: str, qty: int, bin_code: str) -> None:
    sf.post_move(PostMove(sku, qty, "receipt", target=Place("HAM", bin_code)))


def books(sf: Stockflow, sku: str, bin_code: str) -> tuple[int, int]:
    """(on hand, allocated) of a SKU in a Hamburg bin."""
    [p] = [p for p in sf.positions(sku=sku, location="HAM") if p.bin == bin_code]
    return p.on_hand, p.allocated


def lines_of(view: CountView) -> list[tuple[int, str, str, str, int | None, int | None]]:
    return [(ln.line_no, ln.bin, ln.sku, ln.status, ln.expected, ln.counted) for ln in view.lines]


def open_exceptions(sf: Stockflow, kind: str) -> list[str]:
    return [e.message for e in sf.orders.exceptions(state="open", kind=kind)]


def test_a_zone_count_is_blind_fixes_small_variances_and_waits_for_approval_on_big_ones(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    put(sf, "BOLT", 100, "A-01")
    put(sf, "NUT", 50, "A-02")
    put(sf, "WASHER", 5, "A-02")
    sf.post_move(PostMove("WASHER", 5, "scrap", source=Place("HAM", "A-02"), note="rusty"))
    put(sf, "BOLT", 20, "B-01")  # zone B: not in this count

    count = sf.counts.create(location="HAM", scope=ZONE_A, tolerance_pct=5, actor="sup-kim")
    assert (count.scope, count.status, count.tolerance_pct) == ("zone:A", "open", Decimal("5.00"))
    # One line per position in walking order, the empty washer position included.
    assert lines_of(count) == [
        (1, "A-01", "BOLT", "open", None, None),
        (2, "A-02", "NUT", "open", None, None),
        (3, "A-02", "WASHER", "open", None, None),
    ]

    sheet = sf.counts.sheet(count.id)
    blind = {f.name for f in dataclasses.fields(SheetLine)}
    assert not blind & {"expected", "expected_qty", "on_hand", "variance"}
    assert [(ln.bin, ln.sku, ln.counted, ln.done) for ln in sheet.lines] == [
        ("A-01", "BOLT", None, False),
        ("A-02", "NUT", None, False),
        ("A-02", "WASHER", None, False),
    ]

    clock.advance(minutes=10)
    # 97 of 100: within 5 %, corrected at once with a count-correction move.
    counted = sf.counts.submit(count.id, 1, 97, actor="counter-ola")
    assert (counted.counted, counted.done) == (97, True)
    assert books(sf, "BOLT", "A-01") == (97, 0)
    # 40 of 50: 20 % off, waits for a second person; the books stay as they are.
    sf.counts.submit(count.id, 2, 40, actor="counter-ola")
    assert books(sf, "NUT", "A-02") == (50, 0)
    [waiting] = open_exceptions(sf, "count_variance")
    assert count.id in waiting
    assert "books 50, counted 40" in waiting
    sf.counts.submit(count.id, 3, 0, actor="counter-ola")
    view = sf.counts.count(count.id)
    assert view.status == "pending_approval"
    assert lines_of(view) == [
        (1, "A-01", "BOLT", "adjusted", 100, 97),
        (2, "A-02", "NUT", "pending_approval", 50, 40),
        (3, "A-02", "WASHER", "counted", 0, 0),
    ]
    assert [ln.variance for ln in view.lines] == [-3, -10, 0]
    with pytest.raises(IllegalCountStep):
        sf.counts.submit(count.id, 1, 98, actor="counter-ola")
    with pytest.raises(SamePerson):
        sf.counts.approve(count.id, 2, actor="counter-ola")

    # Ten nuts are put away before the supervisor gets to it: the -10 still applies.
    clock.advance(hours=1)
    put(sf, "NUT", 10, "A-02")
    approved = sf.counts.approve(count.id, 2, actor="sup-kim")
    assert (approved.status, approved.decided_by, approved.variance) == ("approved", "sup-kim", -10)
    assert books(sf, "NUT", "A-02") == (50, 0)
    closed = sf.counts.count(count.id)
    assert closed.status == "closed"
    assert open_exceptions(sf, "count_variance") == []
    with sf.db.read() as conn:
        corrections = conn.execute(
            select(stock_moves.c.qty, stock_moves.c.actor)
            .where(stock_moves.c.reason == "count_correction")
            .order_by(stock_moves.c.id)
        ).all()
    assert [(r.qty, r.actor) for r in corrections] == [(3, "counter-ola"), (10, "sup-kim")]
    assert books(sf, "BOLT", "B-01") == (20, 0)
    assert_books_balance(sf)


def test_a_bin_short_of_its_promises_gives_them_back_and_they_are_found_elsewhere(
    shop: Stockflow,
) -> None:
    sf = shop
    put(sf, "BOLT", 10, "A-01")
    put(sf, "BOLT", 10, "B-01")
    web = sf.orders.capture(order("web", ("BOLT", 8)))
    assert books(sf, "BOLT", "A-01") == (10, 8)
    count = sf.counts.create(
        location="HAM", scope=CountScope("bins", bins=("A-01",)), tolerance_pct=50
    )
    # Six where the books say ten: within 50 %, so corrected at once, below the 8 promised.
    sf.counts.submit(count.id, 1, 6, actor="counter-ola")
    assert books(sf, "BOLT", "A-01") == (6, 6)
    assert books(sf, "BOLT", "B-01") == (10, 2)
    after = sf.orders.order(web.id)
    assert after.status == "allocated"
    assert [(ln.allocated, ln.waiting) for ln in after.lines] == [(8, 0)]
    [told] = [e for e in sf.orders.exceptions(kind="count_variance") if e.order_id == web.id]
    assert "2 x BOLT at HAM/A-01" in told.message
    assert any("re-allocated" in d for d in after.decisions)
    assert_books_balance(sf)


def test_with_no_stock_elsewhere_the_lowest_priority_order_waits_with_a_promise_date(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    put(sf, "BOLT", 10, "A-01")
    web = sf.orders.capture(order("web", ("BOLT", 4)))
    market = sf.orders.capture(order("market", ("BOLT", 4)))
    due = clock.today() + timedelta(days=7)
    sf.orders.add_supply(
        kind="purchase", reference="PO-7", sku="BOLT", location="HAM", qty=20, expected_on=due
    )
    count = sf.counts.create(location="HAM", scope=ZONE_A, tolerance_pct=0)
    sf.counts.submit(count.id, 1, 5, actor="counter-ola")
    assert books(sf, "BOLT", "A-01") == (10, 8)  # nothing happens before approval
    sf.counts.approve(count.id, 1, actor="sup-kim")
    # Five left for eight promised: the marketplace order (lower priority) gives back three.
    assert books(sf, "BOLT", "A-01") == (5, 5)
    assert sf.orders.order(web.id).status == "allocated"
    waiting = sf.orders.order(market.id)
    assert waiting.status == "partially_allocated"
    assert [(ln.allocated, ln.waiting) for ln in waiting.lines] == [(1, 3)]
    assert waiting.promise_date == due
    [told] = [e for e in sf.orders.exceptions(kind="count_variance") if e.order_id == market.id]
    assert told.state == "open"
    assert_books_balance(sf)


def test_an_approval_after_stock_left_the_bin_cannot_go_below_zero(shop: Stockflow) -> None:
    sf = shop
    put(sf, "NUT", 10, "A-01")
    count = sf.counts.create(location="HAM", scope=ZONE_A)
    sf.counts.submit(count.id, 1, 2, actor="counter-ola")  # -8
    sf.post_move(
        PostMove("NUT", 5, "move", source=Place("HAM", "A-01"), target=Place("HAM", "B-01"))
    )
    line = sf.counts.approve(count.id, 1, actor="sup-kim")
    assert line.status == "approved"
    assert books(sf, "NUT", "A-01") == (0, 0)
    assert_books_balance(sf)


def test_stock_found_where_the_count_had_no_line_waits_for_approval_then_fills_an_order(
    shop: Stockflow,
) -> None:
    sf = shop
    put(sf, "BOLT", 1, "A-01")
    waiting = sf.orders.capture(order("web", ("WASHER", 3)))
    assert waiting.status == "backordered"
    count = sf.counts.create(location="HAM", scope=ZONE_A, tolerance_pct=100)
    found = sf.counts.report_found(count.id, bin="A-02", sku="WASHER", counted=3, actor="ola")
    assert (found.line_no, found.bin, found.sku, found.counted) == (2, "A-02", "WASHER", 3)
    # The books said none: even a 100 % tolerance does not cover stock in an "empty" place.
    assert sf.counts.count(count.id).lines[1].status == "pending_approval"
    with pytest.raises(Conflict):
        sf.counts.report_found(count.id, bin="A-01", sku="BOLT", counted=1, actor="ola")
    with pytest.raises(InvalidInput):
        sf.counts.report_found(count.id, bin="A-02", sku="BOLT", counted=1, lot="L1", actor="ola")
    sf.counts.submit(count.id, 1, 1, actor="ola")
    sf.counts.approve(count.id, 2, actor="sup-kim")
    assert books(sf, "WASHER", "A-02") == (3, 3)
    assert sf.orders.order(waiting.id).status == "allocated"
    assert sf.counts.count(count.id).status == "closed"
    assert_books_balance(sf)


def test_rejecting_keeps_the_books_and_a_count_with_waiting_variances_cannot_be_cancelled(
    shop: Stockflow,
) -> None:
    sf = shop
    put(sf, "BOLT", 10, "A-01")
    put(sf, "NUT", 10, "A-02")
    count = sf.counts.create(location="HAM", scope=ZONE_A, idempotency_key="cc-1")
    again = sf.counts.create(location="HAM", scope=ZONE_A, idempotency_key="cc-1")
    assert (again.id, again.replayed) == (count.id, True)
    with pytest.raises(IdempotencyKeyReused):
        sf.counts.create(location="HAM", scope=CountScope("zone", zone="B"), idempotency_key="cc-1")
    sf.counts.submit(count.id, 1, 4, actor="ola")
    retried = sf.counts.submit(count.id, 1, 4, actor="ola", idempotency_key="k")
    assert retried.counted == 4
    with pytest.raises(IllegalCountStep):
        sf.counts.cancel(count.id)  # line 1 waits for a decision
    rejected = sf.counts.reject(count.id, 1, actor="sup-kim")
    assert (rejected.status, rejected.decided_by) == ("rejected", "sup-kim")
    assert books(sf, "BOLT", "A-01") == (10, 0)
    with pytest.raises(IllegalCountStep):
        sf.counts.approve(count.id, 1, actor="sup-kim")
    cancelled = sf.counts.cancel(count.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(IllegalCountStep):
        sf.counts.submit(count.id, 2, 10, actor="ola")
    assert [c.id for c in sf.counts.counts(location="HAM", status="cancelled")] == [count.id]
    assert_books_balance(sf)


# scopes ------------------------------------------------------------------------------------------


def test_abc_scope_counts_the_bins_holding_the_skus_that_moved_the_most_value(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    sf.add_skus([NewSku("DUST", "Never sells", unit_price=Decimal("50"))])
    put(sf, "BOLT", 2000, "A-01")  # price 1
    put(sf, "NUT", 400, "A-02")  # price 0.5
    put(sf, "WASHER", 25000, "B-01")  # price 0.1
    put(sf, "DUST", 5, "MAIN")

    def ship(sku: str, qty: int, bin_code: str) -> None:
        sf.post_move(PostMove(sku, qty, "ship", source=Place("HAM", bin_code)))

    # 2,000.00 of washers, but 40 days before the count: outside its 30 days of history.
    ship("WASHER", 20000, "B-01")
    clock.advance(days=30)
    ship("BOLT", 800, "A-01")  # 800.00
    ship("NUT", 300, "A-02")  # 150.00
    ship("WASHER", 30, "B-01")  # 3.00
    clock.advance(days=10)

    def counted_bins(cls: str) -> tuple[str, list[str]]:
        view = sf.counts.create(location="HAM", scope=CountScope("abc", abc_class=cls, days=30))
        return view.scope, sorted({ln.bin for ln in view.lines})

    # 953.00 moved: BOLT is A (the first 80 %), NUT B (on to 95 %), WASHER and DUST are C.
    assert counted_bins("A") == ("abc:A/30d", ["A-01"])
    assert counted_bins("B") == ("abc:B/30d", ["A-02"])
    assert counted_bins("C") == ("abc:C/30d", ["B-01", "MAIN"])
    assert_books_balance(sf)


def test_short_pick_scope_counts_the_bins_that_came_up_short_since_their_last_count(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    put(sf, "BOLT", 3, "A-01")
    put(sf, "BOLT", 3, "A-02")
    put(sf, "NUT", 3, "B-01")
    first = sf.orders.capture(order("web", ("BOLT", 3)))  # from A-01
    second = sf.orders.capture(order("web", ("BOLT", 3)))  # from A-02
    third = sf.orders.capture(order("web", ("NUT", 1)))
    wave = sf.floor.build_wave(WaveRequest("HAM", order_ids=(first.id, second.id, third.id)))
    assert wave is not None
    tasks = {(t.bin, t.sku): t.id for t in wave.tasks}
    clock.advance(minutes=5)
    # one of three found, the bin is empty (a correction move).
    sf.floor.confirm_pick(tasks[("A-01", "BOLT")], 1, actor="picker", left_in_bin=0)
    # two of three taken, the last one left in the bin (no move, only the exception).
    sf.floor.confirm_pick(tasks[("A-02", "BOLT")], 2, actor="picker", left_in_bin=1)
    sf.floor.confirm_pick(tasks[("B-01", "NUT")], 1, actor="picker")
    clock.advance(minutes=5)

    count = sf.counts.create(location="HAM", scope=CountScope("short_picks"))
    assert sorted({ln.bin for ln in count.lines}) == ["A-01", "A-02"]
    clock.advance(minutes=5)
    for ln in count.lines:
        sf.counts.submit(count.id, ln.line_no, 0, actor="ola")
    # Counted since: nothing left to look at.
    with pytest.raises(InvalidInput) as nothing:
        sf.counts.create(location="HAM", scope=CountScope("short_picks"))
    assert nothing.value.field == "scope"
    # Picks carry allocations to the staging bin; verify counts what each row still holds.
    assert sf.verify() == []


def test_bad_counts_are_refused_with_the_field_at_fault(shop: Stockflow) -> None:
    sf = shop
    put(sf, "BOLT", 1, "A-01")

    def field_of(**kw: object) -> str | None:
        args: dict[str, object] = {"location": "HAM", "scope": ZONE_A} | kw
        with pytest.raises(StockflowError) as caught:
            sf.counts.create(**args)  # type: ignore[arg-type]
        return caught.value.field

    assert field_of(scope=CountScope("zone", zone="B")) == "scope"  # B-01 holds nothing
    assert field_of(scope=CountScope("zone", zone="Z")) == "scope"
    assert field_of(scope=CountScope("aisle")) == "scope.kind"
    assert field_of(scope=CountScope("bins")) == "scope.bins"
    assert field_of(scope=CountScope("bins", bins=("A-01", "X-9"))) == "scope.bins[1]"
    assert field_of(scope=CountScope("abc", abc_class="D")) == "scope.abc_class"
    assert field_of(tolerance_pct=101) == "tolerance_pct"
    assert field_of(tolerance_pct="1.234") == "tolerance_pct"
    assert field_of(location="NOWHERE") == "location"
    assert list(sf.counts.counts()) == []


def test_a_wall_to_wall_count_covers_every_storage_bin_and_no_working_bin(shop: Stockflow) -> None:
    sf = shop
    put(sf, "BOLT", 10, "A-01")
    put(sf, "NUT", 4, "B-01")
    sf.receiving.receive(Receive((ReceiptLineIn("WASHER", 3),), location="HAM"))  # on the dock
    count = sf.counts.create(location="HAM", scope=CountScope("location"))
    assert count.scope == "location"
    assert [(ln.bin, ln.sku) for ln in count.lines] == [("A-01", "BOLT"), ("B-01", "NUT")]
