"""Cycle counts under real concurrency on PostgreSQL: bins corrected while orders come and go.

Counters count and supervisors approve variances on the very bins that
customer service is allocating from and cancelling against. A correction
takes back promises a bin can no longer keep and re-allocates them; none of
it may oversell, leave a ghost reservation, or drive a bin below zero.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from helpers import run_in_threads
from order_shop import Clock, add_channel, assert_books_balance, open_shop, order
from stockflow.adapters.tables import orders, positions
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.stock.rules.catalogue import NewBin, NewSku
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.order_lifecycle import IllegalTransition

BINS = [f"A-{n:02d}" for n in range(1, 9)]
START_QTY = 20
CLERKS = 8
COUNTERS = 4  # each owns two bins, so two counts never share a line


@dataclass
class Tally:
    captured: list[str] = field(default_factory=list)
    cancelled: int = 0
    approved: int = 0
    adjusted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def shop(pg_only_url: str) -> Iterator[Stockflow]:
    sf = open_shop(pg_only_url, Clock())
    sf.add_bins([NewBin("HAM", code, "A", n) for n, code in enumerate(BINS, start=1)])
    sf.add_skus([NewSku("WIDGET", "Widget")])
    add_channel(sf, "web", priority=10, ship_from=("HAM",))
    add_channel(sf, "market", kind="marketplace", priority=1, ship_from=("HAM",))
    for code in BINS:
        sf.post_move(PostMove("WIDGET", START_QTY, "receipt", target=Place("HAM", code)))
    yield sf
    sf.close()


def clerk(sf: Stockflow, rng: random.Random, n: int, tally: Tally) -> None:
    """Takes orders for widgets and cancels some of them."""
    for i in range(12):
        if rng.random() < 0.65 or not tally.captured:
            channel = rng.choice(("web", "market"))
            view = sf.orders.capture(
                order(channel, ("WIDGET", rng.randint(1, 6)), external_id=f"C{n}-{i}")
            )
            with tally.lock:
                tally.captured.append(view.id)
            continue
        with tally.lock:
            victim = rng.choice(tally.captured)
        try:
            sf.orders.cancel(victim, reason="customer call")
        except IllegalTransition:
            continue  # cancelled by someone else first
        with tally.lock:
            tally.cancelled += 1


def counter(sf: Stockflow, rng: random.Random, n: int, tally: Tally) -> None:
    """Counts its two bins again and again; a supervisor decides each variance at once."""
    mine = tuple(BINS[2 * n : 2 * n + 2])
    for _ in range(5):
        count = sf.counts.create(
            location="HAM", scope=CountScope("bins", bins=mine), tolerance_pct=rng.choice((0, 30))
        )
        for line in count.lines:
            sf.counts.submit(count.id, line.line_no, rng.randint(0, 24), actor=f"counter-{n}")
        for line in sf.counts.count(count.id).lines:
            if line.status == "adjusted":
                with tally.lock:
                    tally.adjusted += 1
            if line.status != "pending_approval":
                continue
            if rng.random() < 0.8:
                sf.counts.approve(count.id, line.line_no, actor=f"sup-{n}")
                with tally.lock:
                    tally.approved += 1
            else:
                sf.counts.reject(count.id, line.line_no, actor=f"sup-{n}")
        assert sf.counts.count(count.id).status == "closed"


@pytest.mark.postgres_only
def test_counts_approved_while_orders_are_captured_and_cancelled_keep_the_books(
    shop: Stockflow,
) -> None:
    sf = shop
    tally = Tally()
    rngs = [random.Random(7000 + n) for n in range(CLERKS + COUNTERS)]
    start = threading.Barrier(CLERKS + COUNTERS)

    def work(n: int) -> None:
        start.wait()
        if n < CLERKS:
            clerk(sf, rngs[n], n, tally)
        else:
            counter(sf, rngs[n], n - CLERKS, tally)

    run_in_threads(CLERKS + COUNTERS, work)

    assert tally.approved > 0
    assert tally.adjusted > 0
    assert tally.cancelled > 0
    taken_back = [e for e in sf.orders.exceptions(kind="count_variance", limit=1000) if e.order_id]
    assert taken_back  # some counts came in below what orders held at the bin
    with sf.db.read() as conn:
        stored = conn.execute(select(positions.c.on_hand, positions.c.allocated)).all()
    assert all(0 <= r.allocated <= r.on_hand for r in stored), stored
    assert_books_balance(sf)  # verify() clean, allocated == open allocations, no ghosts
    # Every count correction was told to the orders it touched, and they were re-allocated.
    with sf.db.read() as conn:
        waiting = conn.execute(
            select(orders.c.id).where(orders.c.status.in_(["backordered", "partially_allocated"]))
        ).scalars()
        left = list(waiting)
    refilled = sf.orders.fill_backorders()
    assert not refilled, f"waiting orders left beside free stock: {refilled} of {left}"
