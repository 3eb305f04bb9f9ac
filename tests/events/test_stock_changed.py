"""``stock.changed``: whatever changes stock, the last event per SKU and location is the truth.

A seeded mix of every way stock changes (receipts, moves between bins,
write-offs, reservations and their release or use, orders captured,
cancelled, picked, packed and shipped, transfers, counts) runs against one
shop; afterwards the latest ``stock.changed`` of every SKU and location must
say exactly what its positions hold. A write path that forgot to mark what
it touched leaves an event behind the truth, and this fails. Each
transaction tells a SKU and location once, however many of its positions it
changed; on PostgreSQL, writers changing different bins of one SKU at once
still leave the last event equal to the totals.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from helpers import run_in_threads
from order_shop import Clock, add_channel, open_shop, order
from outbox_log import assert_last_told_is_now, last_stock_changed, told, totals
from receiving_shop import stock_the_floor
from stockflow.adapters.parcels import Parcel
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.errors import StockflowError
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch
from stockflow.stock.ledger import post_moves
from stockflow.stock.reservations import reserve_many
from stockflow.stock.rules.catalogue import NewBin
from stockflow.stock.rules.commands import CloseLines, Place, PostMove, Reserve, ReserveLine
from stockflow.transfers.rules import ReceiveLine, TransferLineIn

SKUS = ("BOLT", "NUT", "GEAR")
HAM_BINS = ("A-01", "A-02", "B-01")


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    """HAM with bins A-01, A-02, B-01; CGN; SKUs BOLT, NUT, GEAR; channel web ships from both."""
    sf = open_shop(db_url, Clock())
    stock_the_floor(sf, *SKUS)
    sf.add_bins([NewBin("CGN", "C-01", "C", 1)])
    add_channel(sf, "web", ship_from=("HAM", "CGN"), allow_partial=True, max_splits=2)
    yield sf
    sf.close()


class Mix:
    """The operations the seeded mix chooses from, and what it holds between them."""

    def __init__(self, sf: Stockflow, rng: random.Random) -> None:
        self.sf, self.rng = sf, rng
        self.carts: list[str] = []
        self.orders: list[str] = []
        self.sent: list[str] = []
        self.ops: list[Callable[[], None]] = [
            self.receive, self.receive, self.move, self.write_off, self.reserve,
            self.release, self.consume, self.capture, self.capture, self.cancel, self.ship,
            self.transfer, self.transfer_in, self.count,
        ]  # fmt: skip

    def sku(self) -> str:
        return self.rng.choice(SKUS)

    def ham(self) -> Place:
        return Place("HAM", self.rng.choice(HAM_BINS))

    def receive(self) -> None:
        place = self.ham() if self.rng.random() < 0.7 else Place("CGN", "C-01")
        self.sf.post_move(PostMove(self.sku(), self.rng.randint(1, 6), "receipt", target=place))

    def move(self) -> None:
        source, target = self.rng.sample(HAM_BINS, 2)
        self.sf.post_move(
            PostMove(self.sku(), self.rng.randint(1, 3), "move",
                     source=Place("HAM", source), target=Place("HAM", target))
        )  # fmt: skip

    def write_off(self) -> None:
        self.sf.post_move(
            PostMove(self.sku(), 1, "scrap", source=self.ham(), note="dropped off the shelf")
        )

    def reserve(self) -> None:
        lines = (ReserveLine(self.sku(), self.rng.randint(1, 3)),)
        self.carts.append(self.sf.reserve(Reserve(lines, owner_ref="cart")).id)

    def release(self) -> None:
        if self.carts:
            self.sf.release(CloseLines(self.carts.pop(self.rng.randrange(len(self.carts)))))

    def consume(self) -> None:
        if self.carts:
            self.sf.consume(CloseLines(self.carts.pop(self.rng.randrange(len(self.carts)))))

    def capture(self) -> None:
        lines = [(s, self.rng.randint(1, 4)) for s in self.rng.sample(SKUS, 2)]
        self.orders.append(self.sf.orders.capture(order("web", *lines)).id)

    def cancel(self) -> None:
        if self.orders:
            oid = self.orders.pop(self.rng.randrange(len(self.orders)))
            self.sf.orders.cancel(oid, reason="changed their mind")

    def ship(self) -> None:
        """Pick, pack and ship the oldest order that is wholly allocated at HAM, if any."""
        ready = [o for o in self.orders if self.sf.orders.order(o).status == "allocated"]
        wave = self.sf.floor.build_wave(WaveRequest("HAM", order_ids=tuple(ready[:1])))
        if wave is None or not ready:
            return
        for task in wave.tasks:
            self.sf.floor.confirm_pick(task.id, task.qty, actor="picker")
        packed = None
        for task in wave.tasks:
            packed = self.sf.floor.pack_scan(task.order_id, task.sku, qty=task.qty)
        if packed is not None:
            self.sf.floor.add_package(packed.id, Parcel(500, 200, 200, 100))
            self.sf.floor.ship(packed.id, Dispatch("flat"), actor="packer")

    def transfer(self) -> None:
        sent = self.sf.transfers.ship(
            from_location="CGN", to_location="HAM", lines=[TransferLineIn(self.sku(), 1)],
            expected_on=self.sf.today() + timedelta(days=2),
        )  # fmt: skip
        self.sent.append(sent.id)

    def transfer_in(self) -> None:
        if self.sent:
            self.sf.transfers.receive(self.sent.pop(0), [ReceiveLine(1, 1)])

    def count(self) -> None:
        """Count one bin at HAM; within the tolerance the books follow the count at once."""
        bin_code = self.rng.choice(HAM_BINS)
        try:
            made = self.sf.counts.create(
                location="HAM", scope=CountScope("bins", bins=(bin_code,)), tolerance_pct=100
            )
        except StockflowError:
            return  # nothing in the bin to count
        for line in self.sf.counts.sheet(made.id).lines:
            self.sf.counts.submit(made.id, line.line_no, self.rng.randint(0, 5), actor="ola")


def test_after_a_seeded_mix_the_last_event_of_every_sku_and_location_is_its_totals(
    shop: Stockflow,
) -> None:
    mix = Mix(shop, random.Random(1307))
    done = refused = 0
    for step in range(120):
        op = mix.rng.choice(mix.ops)
        try:
            op()
            done += 1
        except StockflowError:
            refused += 1  # no stock, nothing to count...: the transaction told nothing
        # After every step: a write path that does not tell shows here, at once.
        assert_last_told_is_now(shop, after=f"step {step}: {op.__name__}")
    assert done > 80
    assert refused > 0
    # Every place the mix touched has been told of, and the books balance.
    keys = {str(r.key) for r in told(shop, topic="stock.changed")}
    assert {"BOLT@HAM", "NUT@HAM", "GEAR@HAM"} <= keys
    assert any(k.endswith("@CGN") for k in keys)
    assert any(k.endswith("@TRANSIT-HAM") for k in keys)
    assert shop.verify() == []


def test_one_transaction_tells_each_sku_and_location_once(shop: Stockflow) -> None:
    moves = [
        PostMove("BOLT", 2, "receipt", target=Place("HAM", "A-01")),
        PostMove("BOLT", 3, "receipt", target=Place("HAM", "A-02")),
        PostMove("BOLT", 4, "receipt", target=Place("HAM", "B-01")),
        PostMove("BOLT", 5, "receipt", target=Place("CGN", "C-01")),
        PostMove("NUT", 1, "receipt", target=Place("HAM", "A-01")),
    ]
    shop.db.run(lambda conn: post_moves(conn, moves, now=shop.clock()))
    rows = told(shop, topic="stock.changed")
    assert [(r.key, r.payload["on_hand"]) for r in rows] == [
        ("BOLT@CGN", 5),
        ("BOLT@HAM", 9),
        ("NUT@HAM", 1),
    ]
    assert [r.scope for r in rows] == [
        {"locations": ["CGN"]},
        {"locations": ["HAM"]},
        {"locations": ["HAM"]},
    ]
    assert {(r.aggregate, r.version) for r in rows} == {("position", 1)}


def test_a_group_committed_batch_of_500_reservations_is_one_event(shop: Stockflow) -> None:
    shop.post_move(PostMove("BOLT", 300, "receipt", target=Place("HAM", "A-01")))
    shop.post_move(PostMove("BOLT", 300, "receipt", target=Place("HAM", "A-02")))
    before = told(shop)[-1].id
    asks = [
        Reserve((ReserveLine("BOLT", 1, location="HAM"),), owner_ref=f"c{n}") for n in range(500)
    ]

    outcomes = shop.db.run(
        lambda conn: reserve_many(conn, asks, today=shop.today(), now=shop.clock())
    )
    assert all(not isinstance(o, StockflowError) for o in outcomes)
    [event] = told(shop, after=before)
    assert (event.topic, event.key) == ("stock.changed", "BOLT@HAM")
    assert event.payload == {
        "sku": "BOLT", "location": "HAM", "on_hand": 600, "allocated": 500, "available": 100,
    }  # fmt: skip


def test_the_reservation_desk_tells_each_batch_once_not_each_reservation(shop: Stockflow) -> None:
    """500 callers at once: the desk commits them in a few batches, each told as one event."""
    shop.post_move(PostMove("BOLT", 600, "receipt", target=Place("HAM", "A-01")))
    before = told(shop)[-1].id
    ask = Reserve((ReserveLine("BOLT", 1, location="HAM"),), owner_ref="crowd")

    async def crowd() -> list[object]:
        return list(await asyncio.gather(*(shop.reserve_async(ask) for _ in range(500))))

    assert len(asyncio.run(crowd())) == 500
    rows = told(shop, after=before, topic="stock.changed")
    assert 1 <= len(rows) <= 50  # one per committed batch, a batch holds up to 256
    held = [r.payload["allocated"] for r in rows]
    assert held == sorted(set(held))  # in commit order, each batch on top of the last
    assert held[-1] == 500
    assert_last_told_is_now(shop)


def test_a_transaction_that_fails_tells_nothing(shop: Stockflow) -> None:
    shop.post_move(PostMove("BOLT", 2, "receipt", target=Place("HAM", "A-01")))
    before = told(shop)[-1].id
    with pytest.raises(StockflowError):
        shop.post_move(PostMove("BOLT", 5, "scrap", source=Place("HAM", "A-01"), note="gone"))
    assert told(shop, after=before) == []
    assert_last_told_is_now(shop)


WRITERS = 8
ROUNDS = 25


@pytest.mark.postgres_only
def test_writers_changing_different_bins_of_one_sku_at_once_leave_the_last_event_true(
    pg_only_url: str,
) -> None:
    """Eight threads book stock into (and reserve from) eight bins of one SKU at one site.

    Each transaction reads the site's totals before it commits; one that read
    them while another bin's change was still uncommitted would tell a total
    that is never true once both have committed. The threads start each round
    together, so their last transactions overlap: the last event must still
    be the truth.
    """
    sf = open_shop(pg_only_url, Clock())
    try:
        bins = [f"Z-{n:02d}" for n in range(WRITERS)]
        stock_the_floor(sf, "BOLT")
        sf.add_bins([NewBin("HAM", code, "Z", n) for n, code in enumerate(bins)])

        together = threading.Barrier(WRITERS)
        behind: list[int] = []  # rounds after which the last event was not the truth

        def writer(n: int) -> None:
            for i in range(ROUNDS):
                if i % 5 == 1:  # a reservation locks every bin of the SKU: it waits its turn
                    sf.reserve(Reserve((ReserveLine("BOLT", 1, location="HAM"),)))
                together.wait(timeout=60)
                sf.post_move(PostMove("BOLT", 2, "receipt", target=Place("HAM", bins[n])))
                together.wait(timeout=60)
                if n == 0 and last_stock_changed(sf)["BOLT@HAM"] != totals(sf)["BOLT@HAM"]:
                    behind.append(i)
                together.wait(timeout=60)

        run_in_threads(WRITERS, writer)
        assert totals(sf)["BOLT@HAM"]["on_hand"] == WRITERS * ROUNDS * 2
        assert behind == []
        assert_last_told_is_now(sf)
        assert sf.verify() == []
    finally:
        sf.close()
