"""The core's concurrency claims, with real threads (and processes) on real databases.

Every test runs on SQLite and PostgreSQL. PostgreSQL is where row locks, lock
order and retries are really exercised; SQLite serialises writers, so there the
tests prove the same code is right when transactions queue for the file lock.
After every run the invariants are recomputed from the ledger (``verify``) and
the totals are checked against what the callers were told.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from helpers import JOIN_TIMEOUT, add_sku, run_in_threads, setup_places
from stockflow.adapters.tables import allocations, positions, reservations, skus, stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock, InvalidInput, ReservationClosed
from stockflow.stock.queries.reservations import ReservationView
from stockflow.stock.reservations import reserve_many
from stockflow.stock.rules.commands import CloseLines, Place, PostMove, Reserve, ReserveLine

THREADS = 32


def open_held(sf: Stockflow) -> dict[str, int]:
    """Units held by open reservations per SKU, summed from the allocation rows themselves."""
    open_qty = allocations.c.qty - allocations.c.released_qty - allocations.c.consumed_qty
    query = (
        select(skus.c.code, func.sum(open_qty))
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(reservations, reservations.c.id == allocations.c.reservation_id)
        .where(reservations.c.status == "open")
        .group_by(skus.c.code)
    )
    with sf.db.read() as conn:
        return {code: int(held) for code, held in conn.execute(query) if held}


def totals(sf: Stockflow, *codes: str) -> dict[str, tuple[int, int, int]]:
    """(on hand, allocated, available) per SKU, from the ATP query."""
    return {a.sku: (a.on_hand, a.allocated, a.available) for a in sf.atp(list(codes))}


def assert_no_position_oversold(sf: Stockflow) -> None:
    for p in sf.positions():
        assert 0 <= p.allocated <= p.on_hand, p


def stock_hot_sku(sf: Stockflow, sku: str) -> int:
    """Spread stock of ``sku`` over two locations and several bins; returns the total."""
    setup_places(sf, "WH1", "WH2")
    add_sku(sf, sku)
    spread = {("WH1", None): 80, ("WH1", "A-01"): 60, ("WH2", "A-02"): 40, ("WH2", None): 20}
    for (location, bin_code), qty in spread.items():
        sf.post_move(PostMove(sku, qty, "receipt", target=Place(location, bin_code)))
    return sum(spread.values())


def assert_sold_out_exactly(sf: Stockflow, sku: str, stock: int, accepted: list[str]) -> None:
    assert len(accepted) == stock, f"{len(accepted)} reservations accepted for {stock} units"
    assert len(set(accepted)) == stock
    assert totals(sf, sku) == {sku: (stock, stock, 0)}
    assert open_held(sf) == {sku: stock}
    for p in sf.positions(sku=sku):
        assert p.allocated == p.on_hand, p  # every unit of every bin went, none twice
    assert sf.verify() == []


# a. hot SKU ------------------------------------------------------------------------


@pytest.fixture(params=[0, 8], ids=["default-desk", "8-desk-workers"])
def hot_sf(db_url: str, request: pytest.FixtureRequest) -> Iterator[Stockflow]:
    """One stockflow; with 8 desk workers several batches are in flight at once."""
    sf = Stockflow.open(db_url, migrate_schema=False, reservation_workers=request.param)
    yield sf
    sf.close()


def test_hot_sku_sells_exactly_the_stock_under_32_threads(hot_sf: Stockflow) -> None:
    sf = hot_sf
    stock = stock_hot_sku(sf, "HOT")
    attempts_each = 32  # 1,024 attempts for 200 units
    accepted: list[str] = []
    refused: list[int] = []
    start = threading.Barrier(THREADS)

    def buyer(n: int) -> None:
        start.wait()
        for i in range(attempts_each):
            try:
                view = sf.reserve(Reserve((ReserveLine("HOT", 1),), owner_ref=f"cart-{n}-{i}"))
            except InsufficientStock as exc:
                refused.append(exc.available)
            else:
                assert (view.open_qty, view.owner_ref) == (1, f"cart-{n}-{i}")
                accepted.append(view.id)

    run_in_threads(THREADS, buyer)
    assert len(refused) == THREADS * attempts_each - stock
    assert set(refused) == {0}
    assert_sold_out_exactly(sf, "HOT", stock, accepted)


# b. mixed load ---------------------------------------------------------------------

MIXED_SKUS = ("A", "B", "C")
BINS = [None, "A-01", "A-02"]
PLACES = [(loc, b) for loc in ("WH1", "WH2") for b in BINS]
START_QTY = 25  # per SKU per place


@dataclass
class Tally:
    """What the callers were told succeeded, per SKU; merged after the run."""

    reserved: Counter[str] = field(default_factory=Counter)
    released: Counter[str] = field(default_factory=Counter)
    consumed: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    written_off: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    accepted: int = 0

    def add(self, other: Tally) -> None:
        for name in ("reserved", "released", "consumed", "received", "written_off"):
            getattr(self, name).update(getattr(other, name))
        self.refused += other.refused
        self.accepted += other.accepted


def held_per_sku(view: ReservationView) -> Counter[str]:
    held: Counter[str] = Counter()
    for a in view.allocations:
        held[a.sku] += a.open
    return held


def reserve_and_close(sf: Stockflow, rng: random.Random, tally: Tally) -> None:
    """One customer: a multi-line reservation in random line order, then maybe ship or cancel."""
    codes = rng.sample(MIXED_SKUS, rng.randint(1, 3))
    lines = tuple(
        ReserveLine(code, rng.randint(1, 8), location=rng.choice([None, None, "WH1", "WH2"]))
        for code in codes
    )
    try:
        view = sf.reserve(Reserve(lines))
    except InsufficientStock:
        tally.refused += 1
        return
    tally.accepted += 1
    assert held_per_sku(view) == Counter({ln.sku: ln.qty for ln in lines})
    for ln in lines:
        if ln.location is not None:
            assert {a.location for a in view.allocations if a.sku == ln.sku} == {ln.location}
        tally.reserved[ln.sku] += ln.qty
    roll = rng.random()
    if roll < 0.25:
        closed = sf.release(CloseLines(view.id))
        assert (closed.status, closed.open_qty) == ("closed", 0)
        tally.released.update(held_per_sku(view))
    elif roll < 0.6:
        code = rng.choice(codes)
        qty = rng.randint(1, held_per_sku(view)[code])
        after = sf.consume(CloseLines(view.id, {code: qty}, reference="SHIP"))
        tally.consumed[code] += qty
        assert held_per_sku(after)[code] == held_per_sku(view)[code] - qty
        assert (after.status == "closed") == (after.open_qty == 0)
        if after.status == "open" and rng.random() < 0.5:
            sf.release(CloseLines(view.id))
            tally.released.update(held_per_sku(after))


def move_stock(sf: Stockflow, rng: random.Random, tally: Tally) -> None:
    """One warehouse action on the same positions the customers are reserving from."""
    code = rng.choice(MIXED_SKUS)
    qty = rng.randint(1, 6)
    location = rng.choice(["WH1", "WH2"])
    kind = rng.choice(["receipt", "putaway", "move", "transfer", "adjust_in", "adjust_out"])
    if kind == "receipt":
        sf.post_move(PostMove(code, qty, "receipt", target=Place(location, rng.choice(BINS))))
        tally.received[code] += qty
        return
    if kind == "adjust_in":
        sf.post_move(
            PostMove(code, qty, "adjustment", target=Place(location, "A-02"), note="found")
        )
        tally.received[code] += qty
        return
    refusal: InsufficientStock | None = None
    try:
        if kind == "adjust_out":
            where = Place(location, rng.choice(BINS))
            sf.post_move(PostMove(code, qty, "adjustment", source=where, note="damaged"))
            tally.written_off[code] += qty
        elif kind == "putaway":
            target = Place(location, rng.choice(["A-01", "A-02"]))
            sf.post_move(PostMove(code, qty, "putaway", source=Place(location), target=target))
        elif kind == "move":
            sf.post_move(
                PostMove(
                    code,
                    qty,
                    "move",
                    source=Place(location, "A-01"),
                    target=Place(location, "A-02"),
                )
            )
        else:
            other = "WH2" if location == "WH1" else "WH1"
            sf.post_move(
                PostMove(code, qty, "move", source=Place(location, "A-02"), target=Place(other))
            )
    except InsufficientStock as exc:
        refusal = exc
    assert refusal is None or refusal.available < qty


def test_mixed_reservations_closings_and_moves_keep_every_invariant(sf: Stockflow) -> None:
    setup_places(sf, "WH1", "WH2")
    for code in MIXED_SKUS:
        add_sku(sf, code)
        for location, bin_code in PLACES:
            sf.post_move(PostMove(code, START_QTY, "receipt", target=Place(location, bin_code)))
    customers, movers, rounds = 20, 8, 20
    tallies = [Tally() for _ in range(customers + movers)]
    finished = threading.Event()
    snapshots: list[list[object]] = []

    def worker(n: int) -> None:
        rng = random.Random(1_000 + n)
        act = reserve_and_close if n < customers else move_stock
        for _ in range(rounds):
            act(sf, rng, tallies[n])

    def watcher() -> None:
        # The invariants hold at every commit, so any snapshot taken mid-run must be clean.
        while not finished.is_set():
            drift = sf.verify()
            if drift:
                snapshots.append(list(drift))
            for p in sf.positions():
                if not 0 <= p.allocated <= p.on_hand:
                    snapshots.append([p])
            time.sleep(0.01)

    watching = threading.Thread(target=watcher, daemon=True)
    watching.start()
    try:
        run_in_threads(customers + movers, worker)
    finally:
        finished.set()
        watching.join(JOIN_TIMEOUT)
    assert snapshots == []

    tally = Tally()
    for t in tallies:
        tally.add(t)
    assert tally.accepted > 50
    assert tally.refused + tally.accepted == customers * rounds
    assert sum(tally.consumed.values()) > 0
    assert sum(tally.released.values()) > 0
    expected_allocated = {
        code: tally.reserved[code] - tally.released[code] - tally.consumed[code]
        for code in MIXED_SKUS
    }
    expected_on_hand = {
        code: START_QTY * len(PLACES)
        + tally.received[code]
        - tally.written_off[code]
        - tally.consumed[code]
        for code in MIXED_SKUS
    }
    got = totals(sf, *MIXED_SKUS)
    assert {code: got[code][0] for code in MIXED_SKUS} == expected_on_hand
    assert {code: got[code][1] for code in MIXED_SKUS} == expected_allocated
    assert open_held(sf) == {c: q for c, q in expected_allocated.items() if q}
    assert_no_position_oversold(sf)
    assert sf.verify() == []


def test_closing_one_reservation_from_many_threads_takes_each_unit_once(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    sf.post_move(PostMove("A", 30, "receipt", target=Place("WH1")))
    view = sf.reserve(Reserve((ReserveLine("A", 10),)))
    shipped: list[int] = []
    released: list[int] = []
    refused: list[str] = []
    start = threading.Barrier(16)

    def closer(n: int) -> None:
        start.wait()
        close, done = (sf.consume, shipped) if n % 2 else (sf.release, released)
        for _ in range(2):
            try:
                close(CloseLines(view.id, {"A": 1}))
            except (ReservationClosed, InvalidInput) as exc:
                refused.append(type(exc).__name__)
            else:
                done.append(1)

    run_in_threads(16, closer)
    # 32 attempts on 10 units: each unit leaves exactly once, the rest are told why not.
    assert len(shipped) + len(released) == 10
    assert len(refused) == 22
    final = sf.reservation(view.id)
    assert (final.status, final.open_qty) == ("closed", 0)
    assert [(a.consumed, a.released) for a in final.allocations] == [(len(shipped), len(released))]
    assert totals(sf, "A") == {"A": (30 - len(shipped), 0, 30 - len(shipped))}
    with sf.db.read() as conn:
        ships = conn.execute(
            select(func.coalesce(func.sum(stock_moves.c.qty), 0)).where(
                stock_moves.c.reason == "ship"
            )
        ).scalar_one()
    assert ships == len(shipped)
    assert sf.verify() == []


# c. idempotency races ---------------------------------------------------------------


@pytest.fixture
def instances(db_url: str) -> Iterator[list[Stockflow]]:
    """Four independent stockflows on one database, as four server processes would be."""
    opened = [Stockflow.open(db_url, migrate_schema=False) for _ in range(4)]
    yield opened
    for sf in opened:
        sf.close()


def same_key_from_many_threads(
    instances: list[Stockflow], call: Callable[[Stockflow, int], tuple[object, bool]]
) -> list[tuple[object, bool]]:
    """Every thread makes the same call at the same moment; returns (id, replayed) per caller."""
    callers = 16
    start = threading.Barrier(callers)
    answers: list[tuple[object, bool]] = []

    def caller(n: int) -> None:
        start.wait()
        answers.append(call(instances[n % len(instances)], n))

    run_in_threads(callers, caller)
    assert len(answers) == callers
    return answers


@pytest.mark.parametrize("spread", [1, 4], ids=["one-instance", "four-instances"])
def test_same_reservation_key_at_the_same_moment_reserves_once(
    instances: list[Stockflow], spread: int
) -> None:
    sf = instances[0]
    setup_places(sf)
    add_sku(sf, "A")
    sf.post_move(PostMove("A", 100, "receipt", target=Place("WH1")))
    for round_no in range(5):
        cmd = Reserve((ReserveLine("A", 3),), owner_ref="SO-9", idempotency_key=f"key-{round_no}")

        def reserve(app: Stockflow, _: int, cmd: Reserve = cmd) -> tuple[object, bool]:
            view = app.reserve(cmd)
            return view.id, view.replayed

        answers = same_key_from_many_threads(instances[:spread], reserve)
        assert len({rid for rid, _ in answers}) == 1
        assert sorted(replayed for _, replayed in answers).count(False) == 1
    with sf.db.read() as conn:
        rows = conn.execute(select(reservations.c.idempotency_key)).scalars().all()
    assert sorted(rows) == [f"key-{n}" for n in range(5)]
    assert totals(sf, "A") == {"A": (100, 15, 85)}
    assert sf.verify() == []


@pytest.mark.parametrize("spread", [1, 4], ids=["one-instance", "four-instances"])
def test_same_move_key_at_the_same_moment_posts_once(
    instances: list[Stockflow], spread: int
) -> None:
    sf = instances[0]
    setup_places(sf)
    add_sku(sf, "A")
    for round_no in range(5):
        cmd = PostMove("A", 7, "receipt", target=Place("WH1"), idempotency_key=f"asn-{round_no}")

        def post(app: Stockflow, _: int, cmd: PostMove = cmd) -> tuple[object, bool]:
            record = app.post_move(cmd)
            return record.id, record.replayed

        answers = same_key_from_many_threads(instances[:spread], post)
        assert len({mid for mid, _ in answers}) == 1
        assert sorted(replayed for _, replayed in answers).count(False) == 1
    with sf.db.read() as conn:
        moves = conn.execute(select(func.count()).select_from(stock_moves)).scalar_one()
    assert moves == 5
    assert totals(sf, "A") == {"A": (35, 0, 35)}
    assert sf.verify() == []


# d. beyond one desk ------------------------------------------------------------------


def reserve_without_desk(sf: Stockflow, cmd: Reserve) -> ReservationView:
    """Reserve in a transaction of one's own, straight through the locked code path."""
    [outcome] = sf.db.run(lambda conn: reserve_many(conn, [cmd], today=sf.today(), now=sf.clock()))
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def test_many_instances_and_direct_transactions_never_oversell(
    instances: list[Stockflow],
) -> None:
    stock = stock_hot_sku(instances[0], "HOT")
    accepted: list[str] = []
    refused: list[int] = []
    start = threading.Barrier(THREADS)

    def buyer(n: int) -> None:
        sf = instances[n % len(instances)]
        start.wait()
        for i in range(12):  # 384 attempts for 200 units
            cmd = Reserve((ReserveLine("HOT", 1),), owner_ref=f"cart-{n}-{i}")
            try:
                # Half the callers skip the desk: each request is its own transaction.
                view = reserve_without_desk(sf, cmd) if n % 2 else sf.reserve(cmd)
            except InsufficientStock as exc:
                refused.append(exc.available)
            else:
                accepted.append(view.id)

    run_in_threads(THREADS, buyer)
    assert len(refused) == THREADS * 12 - stock
    assert_sold_out_exactly(instances[0], "HOT", stock, accepted)


def buy_in_process(url: str, threads: int, attempts_each: int) -> list[str]:
    """A separate process with its own stockflow; returns the ids of the reservations it got."""
    sf = Stockflow.open(url, migrate_schema=False)
    got: list[str] = []
    try:

        def buyer(n: int) -> None:
            for _ in range(attempts_each):
                with contextlib.suppress(InsufficientStock):
                    got.append(sf.reserve(Reserve((ReserveLine("HOT", 2),))).id)

        run_in_threads(threads, buyer)
    finally:
        sf.close()
    return got


def test_separate_processes_never_oversell(sf: Stockflow, db_url: str) -> None:
    stock = stock_hot_sku(sf, "HOT")  # 200 units, bought two at a time
    processes = 3
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        futures = [pool.submit(buy_in_process, db_url, 8, 10) for _ in range(processes)]
        accepted = [rid for f in futures for rid in f.result(timeout=JOIN_TIMEOUT)]
    assert len(accepted) == len(set(accepted)) == stock // 2
    assert totals(sf, "HOT") == {"HOT": (stock, stock, 0)}
    assert open_held(sf) == {"HOT": stock}
    assert sf.verify() == []
