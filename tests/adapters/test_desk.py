"""The reservation desk: threads and event loops share batches, and every caller gets an answer.

Runs on SQLite and PostgreSQL. The desk is where a flash sale is group-committed,
so these tests mix blocking and awaiting callers in the same batches, let
callers give up mid-flight, and close the desk with work still queued; after
each, the books are recomputed from the ledger.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from helpers import add_sku, run_in_threads, setup_places
from stockflow.adapters.database import Database
from stockflow.adapters.tables import reservations
from stockflow.bootstrap import Stockflow, utc_now
from stockflow.errors import InsufficientStock, InvalidInput
from stockflow.stock.reservation_desk import ReservationDesk
from stockflow.stock.rules.commands import Place, PostMove, Reserve, ReserveLine

ONE = Reserve((ReserveLine("HOT", 1),))


@pytest.fixture
def shop(sf: Stockflow) -> Stockflow:
    """WH1 with 60 units of HOT."""
    setup_places(sf, "WH1")
    add_sku(sf, "HOT")
    sf.post_move(PostMove("HOT", 60, "receipt", target=Place("WH1")))
    return sf


def reservations_in_db(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def held(sf: Stockflow) -> tuple[int, int]:
    [atp] = sf.atp(["HOT"])
    return atp.on_hand, atp.allocated


@pytest.mark.parametrize("workers", [1, 3])
def test_threads_and_event_loops_share_the_desk_and_sell_exactly_the_stock(
    shop: Stockflow, db_url: str, workers: int
) -> None:
    """16 threads and 4 event loops of 8 tasks each, 200 attempts on 60 units."""
    desk = ReservationDesk(Database(db_url), utc_now, workers=workers)
    told: Counter[str] = Counter()
    lock = threading.Lock()

    def tell(outcome: str) -> None:
        with lock:
            told[outcome] += 1

    def blocking(_: int) -> None:
        for _ in range(5):
            try:
                desk.call(ONE)
                tell("accepted")
            except InsufficientStock:
                tell("refused")

    async def tasks() -> None:
        async def one() -> None:
            for _ in range(3):
                try:
                    await desk.call_async(ONE)
                    tell("accepted")
                except InsufficientStock:
                    tell("refused")

        await asyncio.gather(*(one() for _ in range(8)))

    loops = [threading.Thread(target=asyncio.run, args=(tasks(),)) for _ in range(4)]
    for thread in loops:
        thread.start()
    run_in_threads(16, blocking)
    for thread in loops:
        thread.join(timeout=60)
        assert not thread.is_alive(), "an event loop never got its answers"
    desk.close()

    assert told == {"accepted": 60, "refused": 16 * 5 + 4 * 8 * 3 - 60}
    assert held(shop) == (60, 60)
    assert reservations_in_db(shop) == 60
    assert shop.verify() == []


def test_a_caller_that_gives_up_does_not_stop_the_desk(shop: Stockflow) -> None:
    """A cancelled await leaves its reservation to commit; the desk keeps answering others."""

    async def scenario() -> tuple[int, int]:
        impatient = [asyncio.create_task(shop.reserve_async(ONE)) for _ in range(10)]
        await asyncio.sleep(0)  # let them queue
        for task in impatient:
            task.cancel()
        await asyncio.gather(*impatient, return_exceptions=True)
        served = 0
        for _ in range(20):
            await asyncio.wait_for(shop.reserve_async(ONE), timeout=30)
            served += 1
        return served, sum(task.cancelled() for task in impatient)

    served, cancelled = asyncio.run(scenario())
    assert served == 20
    assert cancelled == 10
    # Whatever the cancelled callers had queued still ran: the books say so, exactly.
    made = reservations_in_db(shop)
    assert 20 <= made <= 30
    assert held(shop) == (60, made)
    assert shop.verify() == []


def test_closing_the_desk_answers_what_is_queued(shop: Stockflow, db_url: str) -> None:
    """``close`` finishes queued work before its workers stop; later calls are refused."""
    desk = ReservationDesk(Database(db_url), utc_now)
    answers: list[str] = []

    def buy(_: int) -> None:
        desk.call(ONE)
        answers.append("accepted")

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    desk.close()
    assert answers == ["accepted"] * 12
    with pytest.raises(RuntimeError, match="closed"):
        desk.call(ONE)
    assert held(shop) == (60, 12)


def test_a_batch_refuses_the_same_question_with_fresh_errors(shop: Stockflow) -> None:
    """Once sold out, identical refused requests each get their own error object."""
    for _ in range(60):
        shop.reserve(ONE)

    async def crowd() -> list[BaseException | object]:
        return await asyncio.gather(
            *(shop.reserve_async(ONE) for _ in range(32)), return_exceptions=True
        )

    refusals = asyncio.run(crowd())
    assert all(isinstance(r, InsufficientStock) for r in refusals)
    assert len({id(r) for r in refusals}) == 32
    assert {(r.sku, r.requested, r.available, r.field) for r in refusals} == {  # type: ignore[union-attr]
        ("HOT", 1, 0, "lines[0].qty")
    }
    assert held(shop) == (60, 60)


def test_an_empty_idempotency_key_is_refused_before_it_is_queued(shop: Stockflow) -> None:
    with pytest.raises(InvalidInput) as refused:
        shop.reserve(Reserve((ReserveLine("HOT", 1),), idempotency_key=""))
    assert refused.value.field == "idempotency_key"
    assert held(shop) == (60, 0)
