"""Order management under real concurrency: threads, and more than one stockflow per database.

PostgreSQL is where row locks, lock order, fills queueing for the same
waiting orders and unique-key races are really exercised; SQLite serialises
writers, so there the same tests prove the code stays right when transactions
queue for the file lock.

Every allocation path gets its own race: capture through the group-commit
desk, capture in a transaction of its own, capture from two stockflows at once,
backorder fills racing receipts and each other, cancellations feeding fills,
and kits that share a component. After every run the books must balance (see
``order_shop.assert_books_balance``) and no waiting order may be left with
stock it could take sitting free.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from helpers import run_in_threads
from order_shop import (
    COLOGNE,
    HAMBURG,
    MUNICH,
    Clock,
    add_channel,
    add_skus,
    allocated_at,
    assert_books_balance,
    open_shop,
    order,
    stock,
)
from stockflow.adapters.tables import orders
from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock, StockflowError
from stockflow.orders.rules.parties import KitRecipe
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.commands import CaptureOrder, Place, PostMove
from stockflow.stock.rules.order_lifecycle import IllegalTransition


def at_once(count: int, call: Callable[[int], OrderView]) -> list[OrderView | StockflowError]:
    """``call(n)`` from ``count`` threads released together; each one's order or refusal."""
    start = threading.Barrier(count)
    results: list[OrderView | StockflowError] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        start.wait()
        try:
            result: OrderView | StockflowError = call(n)
        except StockflowError as exc:
            result = exc
        with lock:
            results.append(result)

    run_in_threads(count, work)
    return results


@pytest.fixture
def shops(db_url: str) -> Iterator[list[Stockflow]]:
    """Two stockflows on one database, as two server processes would be."""
    clock = Clock()
    first = open_shop(db_url, clock)
    second = Stockflow.open(db_url, migrate_schema=False, clock=clock)
    yield [first, second]
    second.close()
    first.close()


Capture = Callable[[int, CaptureOrder], OrderView]


def capture_path(shops: list[Stockflow], path: str) -> Capture:
    """How thread ``n`` captures an order on the path under test."""

    def through_desk(n: int, cmd: CaptureOrder) -> OrderView:
        return shops[0].orders.capture(cmd)

    def own_transaction(n: int, cmd: CaptureOrder) -> OrderView:
        [outcome] = shops[0].orders.capture_many([cmd])
        if isinstance(outcome, StockflowError):
            raise outcome
        return outcome

    def two_servers(n: int, cmd: CaptureOrder) -> OrderView:
        return shops[n % 2].orders.capture(cmd)

    return {"desk": through_desk, "transaction": own_transaction, "two-servers": two_servers}[path]


PATHS = ["desk", "transaction", "two-servers"]


def assert_no_lost_wake_up(sf: Stockflow) -> None:
    left = waiting_orders_left_behind(sf)
    assert not left, "\n\n".join(left)


def waiting_orders_left_behind(sf: Stockflow) -> list[str]:
    """Orders a fill would still give stock to now (each a lost wake-up), with their story."""
    with sf.db.read() as conn:
        ids = conn.execute(
            select(orders.c.id).where(orders.c.status.in_(["backordered", "partially_allocated"]))
        ).scalars()
        before = {oid: sf.orders.order(oid) for oid in ids}
    return [
        f"{before[oid]} -> {sf.orders.order(oid).decisions}" for oid in sf.orders.fill_backorders()
    ]


# a. the last units, two orders at the same moment ---------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("policy", ["reject", "allow"])
def test_stock_10_and_two_orders_of_8_at_once_one_gets_them(
    shops: list[Stockflow], path: str, policy: str
) -> None:
    sf = shops[0]
    capture = capture_path(shops, path)
    add_channel(sf, "web", backorder_policy=policy)
    rounds = 8
    skus = [f"DROP{r}" for r in range(rounds)]
    add_skus(sf, *skus)
    for sku in skus:
        stock(sf, sku, 10)

    def two_buyers(sku: str) -> list[OrderView | StockflowError]:
        return at_once(2, lambda n: capture(n, order("web", (sku, 8), external_id=f"{sku}-{n}")))

    for sku in skus:
        got = two_buyers(sku)
        views = [g for g in got if isinstance(g, OrderView)]
        allocated = [v for v in views if v.status == "allocated"]
        assert len(allocated) == 1, got
        if policy == "reject":
            [refused] = [g for g in got if not isinstance(g, OrderView)]
            assert isinstance(refused, InsufficientStock)
            assert (refused.requested, refused.available) == (8, 2)
            assert len(views) == 1
        else:
            [waiting] = [v for v in views if v.status == "backordered"]
            assert [(ln.allocated, ln.waiting) for ln in waiting.lines] == [(0, 8)]
        assert allocated_at(sf, sku) == {"HAM": 8}
    assert_books_balance(sf)
    assert_no_lost_wake_up(sf)


# b. one order sent many times at once ----------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("senders", [2, 4, 16])
def test_the_same_order_from_many_threads_at_once_is_one_order(
    shops: list[Stockflow], path: str, senders: int
) -> None:
    sf = shops[0]
    capture = capture_path(shops, path)
    add_channel(sf, "market", kind="marketplace")
    add_skus(sf, "SOAP", "FOAM")
    stock(sf, "SOAP", 100)
    # Two orders, each sent by every thread: one by its marketplace number, one
    # by an idempotency key; the second is backordered, so no stock lock orders them.
    cmds = [
        order("market", ("SOAP", 3), external_id="MP-42"),
        order("market", ("FOAM", 2), idempotency_key="ingest-9c1e"),
    ]
    for cmd in cmds:
        got = at_once(senders, lambda n, cmd=cmd: capture(n, cmd))
        views = [g for g in got if isinstance(g, OrderView)]
        assert len(views) == senders, got
        assert len({v.id for v in views}) == 1
        assert sorted(v.replayed for v in views) == [False] + [True] * (senders - 1)
    with sf.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 2
    assert allocated_at(sf, "SOAP") == {"HAM": 3}
    assert_books_balance(sf)


# c. capture, cancel and re-allocate while receipts come in -------------------------------------

SKUS = ("S1", "S2", "S3", "S4")
KIT = "PACK"  # S1 + 2 x S2
PLACES = ("HAM", "CGN", "MUC")
POINTS = (HAMBURG, COLOGNE, MUNICH, None)
CLERKS = 16
RECEIVERS = 2


@dataclass
class Tally:
    """What the threads were told, shared under one lock."""

    captured: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def random_order(rng: random.Random, n: int, i: int) -> CaptureOrder:
    codes = rng.sample([*SKUS, KIT], rng.randint(1, 3))
    point = rng.choice(POINTS)
    return order(
        rng.choice(("web", "market", "retail", "b2b")),
        *((code, rng.randint(1, 4)) for code in codes),
        external_id=f"C{n}-{i}",
        ship_to_latitude=point[0] if point else None,
        ship_to_longitude=point[1] if point else None,
    )


def clerk(shops: list[Stockflow], rng: random.Random, n: int, tally: Tally, rounds: int) -> None:
    """Customer service: takes orders, cancels some (whole or a line), re-runs allocation."""
    sf = shops[n % 2]
    for i in range(rounds):
        roll = rng.random()
        if roll < 0.55 or not tally.captured:
            cmd = random_order(rng, n, i)
            try:
                if rng.random() < 0.5:
                    view = sf.orders.capture(cmd)
                else:
                    [outcome] = sf.orders.capture_many([cmd])
                    if isinstance(outcome, StockflowError):
                        raise outcome
                    view = outcome
            except InsufficientStock:
                with tally.lock:
                    tally.refused += 1
                continue
            assert not view.replayed
            with tally.lock:
                tally.captured.append(view.id)
        elif roll < 0.85:
            with tally.lock:
                victim = rng.choice(tally.captured)
            lines = sf.orders.order(victim).lines
            line_no = rng.choice([None, rng.randint(1, len(lines))])
            try:
                after = sf.orders.cancel(victim, reason="customer call", line_no=line_no)
            except IllegalTransition:
                continue  # someone else cancelled it first
            if after.status == "cancelled":
                assert all(ln.allocated == 0 for ln in after.lines), after
            with tally.lock:
                tally.cancelled += 1
        else:
            sf.orders.fill_backorders(set(rng.sample(SKUS, 2)))  # a manual re-allocation


def receiver(sf: Stockflow, rng: random.Random, tally: Tally, rounds: int) -> None:
    """Goods in: small receipts of random SKUs into random warehouses."""
    for _ in range(rounds):
        sku, qty = rng.choice(SKUS), rng.randint(1, 6)
        sf.post_move(PostMove(sku, qty, "receipt", target=Place(rng.choice(PLACES))))
        with tally.lock:
            tally.received[sku] += qty


def assert_statuses_match_lines(sf: Stockflow, ids: list[str]) -> None:
    for oid in ids:
        view = sf.orders.order(oid)
        waiting = sum(ln.waiting for ln in view.lines)
        held = sum(ln.allocated for ln in view.lines)
        if view.status == "cancelled":
            assert held == 0, view
        elif view.status == "allocated":
            assert waiting == 0, view
        else:
            assert view.status in ("backordered", "partially_allocated"), view
            assert waiting > 0, view


def test_capture_cancel_and_reallocation_under_16_threads_keep_the_books(
    shops: list[Stockflow],
) -> None:
    sf = shops[0]
    add_skus(sf, *SKUS, KIT)
    sf.orders.set_kit(KitRecipe(KIT, {"S1": 1, "S2": 2}))
    add_channel(sf, "web", priority=10, max_splits=2)
    add_channel(sf, "market", kind="marketplace", priority=1, backorder_policy="reject")
    add_channel(sf, "retail", kind="other", allow_partial=True)
    add_channel(sf, "b2b", kind="wholesale", priority=5, max_splits=3)
    sf.orders.set_ring_fence(channel="web", sku="S1", location="HAM", qty=5)
    start_qty = 6
    for sku in SKUS:
        for place in PLACES:
            stock(sf, sku, start_qty, place)
    tally = Tally()
    rngs = [random.Random(1000 + n) for n in range(CLERKS + RECEIVERS)]

    def work(n: int) -> None:
        if n < CLERKS:
            clerk(shops, rngs[n], n, tally, rounds=14)
        else:
            receiver(shops[n % 2], rngs[n], tally, rounds=12)

    run_in_threads(CLERKS + RECEIVERS, work)

    assert tally.cancelled > 0
    assert tally.refused > 0  # the marketplace refuses what it cannot have now
    assert len(set(tally.captured)) == len(tally.captured)
    for sku in SKUS:
        on_hand = sum(p.on_hand for p in sf.positions(sku=sku))
        assert on_hand == start_qty * len(PLACES) + tally.received[sku], sku
    refilled = [
        oid
        for oid in tally.captured
        if any(d.startswith("backorder fill:") for d in sf.orders.order(oid).decisions)
    ]
    assert refilled  # stock freed by cancellations and receipts went to waiting orders
    assert_books_balance(sf)
    assert_statuses_match_lines(sf, tally.captured)
    assert_no_lost_wake_up(sf)


# d. backorder fills racing receipts and each other ---------------------------------------------


def test_receipts_and_fills_at_once_give_each_unit_to_one_backorder(
    shops: list[Stockflow],
) -> None:
    sf = shops[0]
    add_channel(sf, "web", priority=10)
    add_channel(sf, "market", kind="marketplace")
    threads = 16
    for burst in range(3):
        sku = f"GPU{burst}"
        add_skus(sf, sku)
        waiting = [
            sf.orders.capture(order("web" if i % 3 == 0 else "market", (sku, 1))).id
            for i in range(24)
        ]
        start = threading.Barrier(threads)

        def work(n: int, sku: str = sku, start: threading.Barrier = start) -> None:
            start.wait()  # receipts (each followed by its own fill) and fills collide
            if n % 4:
                shops[n % 2].post_move(PostMove(sku, 1, "receipt", target=Place(PLACES[n % 3])))
            else:
                shops[n % 2].orders.fill_backorders({sku})

        run_in_threads(threads, work)
        received = threads * 3 // 4  # 12 units for 24 waiting orders
        statuses = Counter(sf.orders.order(oid).status for oid in waiting)
        assert statuses == {"allocated": received, "backordered": len(waiting) - received}
        assert sum(allocated_at(sf, sku).values()) == received
        # The web shop's orders come first: all eight of them have their unit.
        web = [oid for i, oid in enumerate(waiting) if i % 3 == 0]
        assert {sf.orders.order(oid).status for oid in web} == {"allocated"}
    assert_books_balance(sf)
    assert_no_lost_wake_up(sf)


@pytest.mark.parametrize("path", PATHS)
def test_orders_and_receipts_at_the_same_moment_leave_no_backorder_beside_free_stock(
    shops: list[Stockflow], path: str
) -> None:
    sf = shops[0]
    capture = capture_path(shops, path)
    add_skus(sf, "GPU")
    add_channel(sf, "web")
    threads, each = 16, 8
    step = threading.Barrier(threads)
    ids: list[str] = []

    def work(n: int) -> None:
        for i in range(each):
            step.wait()  # every round, orders and receipts collide
            if n % 2:
                ids.append(capture(n, order("web", ("GPU", 1), external_id=f"G{n}-{i}")).id)
            else:
                shops[n % 4 // 2].post_move(
                    PostMove("GPU", 1, "receipt", target=Place(PLACES[n % 3]))
                )

    run_in_threads(threads, work)
    # As many orders as units: every order must have its unit, whoever came first.
    assert len(ids) == threads // 2 * each
    statuses = Counter(sf.orders.order(oid).status for oid in ids)
    assert statuses == {"allocated": len(ids)}, statuses
    assert_books_balance(sf)


# e. kits that share a component, from many threads ---------------------------------------------


def test_kits_sharing_a_component_never_oversell_it_under_16_threads(
    shops: list[Stockflow],
) -> None:
    sf = shops[0]
    add_skus(sf, "MUG", "SPOON", "TEA", "BREAKFAST", "TEATIME")
    sf.orders.set_kit(KitRecipe("BREAKFAST", {"MUG": 1, "SPOON": 1}))
    sf.orders.set_kit(KitRecipe("TEATIME", {"MUG": 1, "TEA": 2}))
    add_channel(sf, "web", backorder_policy="reject")
    stock(sf, "MUG", 30)
    stock(sf, "SPOON", 40)
    stock(sf, "TEA", 80)
    threads = 16
    start = threading.Barrier(threads)
    taken: list[OrderView] = []
    lock = threading.Lock()
    capture = capture_path(shops, "two-servers")

    def buyer(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        for _ in range(4):
            lines = [("BREAKFAST", rng.randint(1, 2)), ("TEATIME", rng.randint(1, 2))]
            if rng.random() < 0.3:
                lines.append(("MUG", 1))
            try:
                view = capture(n, order("web", *rng.sample(lines, len(lines))))
            except InsufficientStock:
                continue
            with lock:
                taken.append(view)

    run_in_threads(threads, buyer)
    mugs = sum(ln.allocated for v in taken for ln in v.lines)  # one mug per kit, or per mug
    assert all(v.status == "allocated" for v in taken)
    assert allocated_at(sf, "MUG") == {"HAM": mugs}
    assert mugs <= 30
    tea = sum(2 * ln.allocated for v in taken for ln in v.lines if ln.sku == "TEATIME")
    spoons = sum(ln.allocated for v in taken for ln in v.lines if ln.sku == "BREAKFAST")
    assert (allocated_at(sf, "TEA"), allocated_at(sf, "SPOON")) == ({"HAM": tea}, {"HAM": spoons})
    assert_books_balance(sf)
