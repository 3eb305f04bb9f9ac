"""The floor under real concurrency on PostgreSQL: picks, cancellations and counts on the same bins.

Pickers confirm tasks (some short) while customer service cancels the same
orders and counters correct the same bins. Whatever interleaving the
database picks, no position goes negative, no allocation outlives its order
or its units, and no open pick task sends a picker for units nobody holds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from helpers import run_in_threads
from order_shop import Clock, add_channel, add_skus, assert_books_balance, open_shop, order
from stockflow.adapters.tables import allocation_open_qty, allocations, pick_tasks, positions
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.errors import StockflowError
from stockflow.floor.picking import WaveRequest
from stockflow.stock.rules.catalogue import NewBin
from stockflow.stock.rules.commands import Place, PostMove

pytestmark = pytest.mark.postgres_only

BINS = ("A-01", "A-02", "A-03", "A-04")


@pytest.fixture
def floor(pg_only_url: str) -> Iterator[Stockflow]:
    sf = open_shop(pg_only_url, Clock())
    sf.add_bins([NewBin("HAM", code, "A", n) for n, code in enumerate(BINS, start=1)])
    add_skus(sf, "APPLE")
    add_channel(sf, "WEB")
    for code in BINS:
        sf.post_move(PostMove("APPLE", 30, "receipt", target=Place("HAM", code)))
    yield sf
    sf.close()


def count_bin(sf: Stockflow, bin_code: str, missing: int) -> None:
    """A counter counts one bin, finding ``missing`` units fewer than the books say.

    The count goes through the real cycle-count path: a count of the bin, the
    blind sheet, the counted figure; with a 100% tolerance it is posted at once.
    """
    count = sf.counts.create(
        location="HAM", scope=CountScope("bins", bins=(bin_code,)), tolerance_pct=100
    )
    for line in sf.counts.sheet(count.id).lines:
        books = next(p.on_hand for p in sf.positions(sku=line.sku) if p.bin == line.bin)
        sf.counts.submit(count.id, line.line_no, max(books - missing, 0), actor="counter")


def test_picks_cancellations_and_counts_on_the_same_bins_keep_the_books(
    floor: Stockflow,
) -> None:
    placed = [floor.orders.capture(order("WEB", ("APPLE", 3))).id for _ in range(30)]
    wave = floor.floor.build_wave(WaveRequest("HAM", max_orders=30))
    assert wave is not None
    tasks = [t.id for t in wave.tasks]
    assert len(tasks) >= 30
    lock = threading.Lock()
    refused: list[str] = []
    done: Counter[str] = Counter()

    def work(n: int) -> None:
        rng = random.Random(n)
        for _ in range(12):
            try:
                if n < 8:
                    with lock:
                        if not tasks:
                            return
                        task_id = tasks.pop()
                    left = _left(floor, task_id)
                    picked = left - 1 if rng.random() < 0.2 and left else left
                    result = floor.floor.confirm_pick(task_id, picked, actor=f"picker-{n}")
                    done["short pick" if result.short else "pick"] += 1
                elif n < 12:
                    floor.orders.cancel(rng.choice(placed), reason="changed mind")
                    done["cancel"] += 1
                else:
                    count_bin(floor, rng.choice(BINS), rng.randint(0, 2))
                    done["count"] += 1
            except StockflowError as exc:
                refused.append(type(exc).__name__)

    run_in_threads(16, work)
    assert min(done[k] for k in ("pick", "short pick", "cancel", "count")) > 0, done
    assert_books_balance(floor)
    with floor.db.read() as conn:
        negative = conn.execute(select(positions.c.id).where(positions.c.on_hand < 0)).all()
        ghosts = conn.execute(
            select(pick_tasks.c.id)
            .join(allocations, allocations.c.id == pick_tasks.c.allocation_id)
            .where(
                pick_tasks.c.status == "open",
                allocation_open_qty
                < pick_tasks.c.qty - pick_tasks.c.picked_qty - pick_tasks.c.short_qty,
            )
        ).all()
    assert negative == []
    assert ghosts == []
    assert set(refused) <= {"Conflict", "IllegalTransition", "ReservationClosed"}


def _left(sf: Stockflow, task_id: int) -> int:
    with sf.db.read() as conn:
        row = conn.execute(
            select(pick_tasks.c.qty - pick_tasks.c.picked_qty - pick_tasks.c.short_qty).where(
                pick_tasks.c.id == task_id
            )
        ).scalar_one()
    return int(row)
