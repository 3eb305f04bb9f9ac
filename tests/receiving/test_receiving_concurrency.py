"""Receiving under real concurrency: many docks, one purchase order, one pile of units.

On PostgreSQL the PO row lock, in-database counters and position locks are
really exercised; on SQLite the same runs prove the code stays right when
writers queue for the file lock. Every run ends with the books balanced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from helpers import run_in_threads
from order_shop import Clock, add_channel, open_shop, order
from receiving_shop import assert_balanced, bins_of, buy, held_for, stock_the_floor
from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock, StockflowError
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.receiving.rules.putaway import ConfirmPutaway


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    sf = open_shop(db_url, Clock())
    stock_the_floor(sf, "BOLT")
    add_channel(sf, "web", allow_partial=True)
    yield sf
    sf.close()


def at_once(count: int, call: Callable[[int], object]) -> list[object]:
    """``call(n)`` from ``count`` threads released together; each one's result or refusal."""
    start = threading.Barrier(count)
    results: list[object] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        start.wait()
        try:
            result: object = call(n)
        except StockflowError as exc:
            result = exc
        with lock:
            results.append(result)

    run_in_threads(count, work)
    return results


def test_eight_docks_receiving_one_po_count_every_unit(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 40))

    def receive(n: int) -> object:
        cmd = Receive((ReceiptLineIn("BOLT", 5),), po_id=po.id, idempotency_key=f"truck-{n}")
        return sf.receiving.receive(cmd)

    results = at_once(8, receive)
    assert not [r for r in results if isinstance(r, StockflowError)]
    after = sf.receiving.purchase_order(po.id)
    assert (after.status, after.lines[0].received) == ("received", 40)
    assert bins_of(sf, "BOLT") == {"DOCK": (40, 0)}
    assert_balanced(sf)


def test_one_truck_sent_from_eight_threads_is_received_once(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 10))
    cmd = Receive((ReceiptLineIn("BOLT", 10),), po_id=po.id, idempotency_key="truck-1")
    results = at_once(8, lambda n: sf.receiving.receive(cmd))
    assert len({getattr(r, "id", r) for r in results}) == 1
    assert sf.receiving.purchase_order(po.id).lines[0].received == 10
    assert bins_of(sf, "BOLT") == {"DOCK": (10, 0)}


def test_waiting_orders_each_get_one_unit_of_receipts_arriving_at_once(shop: Stockflow) -> None:
    sf = shop
    waiting = [sf.orders.capture(order("web", ("BOLT", 1))).id for _ in range(6)]
    at_once(6, lambda n: sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 1),), location="HAM")))
    assert [sf.orders.order(o).status for o in waiting] == ["allocated"] * 6
    assert bins_of(sf, "BOLT") == {"DOCK": (6, 6)}
    assert_balanced(sf)


def test_putaways_racing_for_the_same_dock_units_move_each_unit_once(shop: Stockflow) -> None:
    sf = shop
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 10),), location="HAM"))
    promised = sf.orders.capture(order("web", ("BOLT", 6)))

    def put(n: int) -> object:
        to_bin = ("A-01", "A-02")[n % 2]
        return sf.receiving.confirm_putaway(ConfirmPutaway("HAM", "BOLT", 3, to_bin))

    results = at_once(8, put)
    refused = [r for r in results if isinstance(r, StockflowError)]
    assert len(refused) == 5
    assert all(isinstance(r, InsufficientStock) for r in refused)
    assert sum(on_hand for on_hand, _ in bins_of(sf, "BOLT").values()) == 10
    assert bins_of(sf, "BOLT")["DOCK"][0] == 1
    assert sum(held_for(sf, promised.id).values()) == 6
    assert_balanced(sf)
