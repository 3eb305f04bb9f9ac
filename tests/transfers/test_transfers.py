"""Transfers between warehouses, on SQLite and PostgreSQL: ship, travel, arrive (not quite whole).

Hamburg (HAM) sends lamps to Cologne (CGN). While they travel they are on
the books of ``TRANSIT-CGN``: not sellable anywhere, but Cologne's promise
dates count them from the expected day. They arrive one short and one
broken; the books say so, a person is told, and Cologne's waiting customer
gets what did arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from helpers import run_in_threads
from order_shop import Clock, add_channel, assert_books_balance, open_shop, order, stock
from stockflow.adapters.tables import stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    ExpiredLot,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    StockflowError,
    UnknownSku,
)
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.transfers.queries import TransferView, UnknownTransfer
from stockflow.transfers.rules import (
    IllegalTransferStep,
    ReceiveLine,
    Source,
    TransferEvent,
    TransferLineIn,
    TransferStatus,
    checked_receipt,
    next_transfer_status,
    plan_picks,
    split_receipt,
    usable,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """HAM, CGN and MUC; LAMP (plain) and MILK (lot-tracked); shops that sell from HAM and CGN."""
    sf = open_shop(db_url, clock)
    sf.add_skus([NewSku("LAMP", "Desk lamp"), NewSku("MILK", "Oat milk", lot_tracked=True)])
    add_channel(sf, "ham-shop", ship_from=("HAM",))
    add_channel(sf, "cgn-shop", ship_from=("CGN",))
    yield sf
    sf.close()


def on_hand(sf: Stockflow, sku: str) -> dict[tuple[str, str, str | None], int]:
    """On hand per (location, bin, lot), positions holding nothing left out."""
    return {(p.location, p.bin, p.lot): p.on_hand for p in sf.positions(sku=sku) if p.on_hand}


def available_at(sf: Stockflow, sku: str) -> dict[str, int]:
    [row] = sf.atp([sku])
    return {loc.location: loc.available for loc in row.locations}


def ship(
    sf: Stockflow, *lines: TransferLineIn, to: str = "CGN", days: int = 4, **kw: object
) -> TransferView:
    return sf.transfers.ship(
        from_location="HAM", to_location=to, lines=lines,
        expected_on=sf.today() + timedelta(days=days), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


# the story -----------------------------------------------------------------------------------


def test_lamps_travel_to_cologne_and_arrive_one_short_and_one_broken(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    stock(sf, "LAMP", 12, "HAM")
    held = sf.orders.capture(order("ham-shop", ("LAMP", 4)))  # Hamburg keeps 4 promised
    waiting = sf.orders.capture(order("cgn-shop", ("LAMP", 3)))
    assert (held.status, waiting.status, waiting.promise_date) == ("allocated", "backordered", None)

    # Hamburg cannot send what it promised to its own customer: refused, nothing written.
    with pytest.raises(InsufficientStock) as short:
        ship(sf, TransferLineIn("LAMP", 9))
    assert (short.value.requested, short.value.available, short.value.location) == (9, 8, "HAM")
    assert short.value.field == "lines[0].qty"
    assert list(sf.transfers.transfers()) == []
    assert on_hand(sf, "LAMP") == {("HAM", "MAIN", None): 12}

    sent = ship(sf, TransferLineIn("LAMP", 6), actor="dispatch-jo")
    assert (sent.status, sent.from_location, sent.to_location) == ("in_transit", "HAM", "CGN")
    assert [(ln.line_no, ln.sku, ln.shipped) for ln in sent.lines] == [(1, "LAMP", 6)]
    # On the road: gone from Hamburg's ATP, in nobody's, on the in-transit books.
    assert on_hand(sf, "LAMP") == {("HAM", "MAIN", None): 6, ("TRANSIT-CGN", "MAIN", None): 6}
    assert available_at(sf, "LAMP") == {"HAM": 2}
    # Cologne promises a new customer the day the lamps are due (after the 3 already waiting).
    due = clock.today() + timedelta(days=4)
    later = sf.orders.capture(order("cgn-shop", ("LAMP", 1)))
    assert (later.status, later.promise_date) == ("backordered", due)

    clock.advance(days=3)
    got = sf.transfers.receive(
        sent.id, [ReceiveLine(1, received=5, damaged=1)], actor="goods-in-ali"
    )
    assert got.status == "received"
    assert got.received_at == clock.now
    [line] = got.lines
    assert (line.shipped, line.received, line.damaged, line.lost, line.over) == (6, 5, 1, 1, 0)
    assert on_hand(sf, "LAMP") == {
        ("CGN", "DOCK", None): 4,
        ("CGN", "QUARANTINE", None): 1,
        ("HAM", "MAIN", None): 6,
    }
    [discrepancy] = [e for e in sf.orders.exceptions() if e.kind == "transfer_discrepancy"]
    assert discrepancy.sku == "LAMP"
    assert sent.id in discrepancy.message
    assert "1 lost in transit" in discrepancy.message
    assert "1 damaged" in discrepancy.message
    # The four good lamps went to Cologne's waiting customers, oldest first.
    assert [sf.orders.order(o.id).status for o in (waiting, later)] == ["allocated", "allocated"]
    assert {p.bin: p.allocated for p in sf.positions(sku="LAMP", location="CGN")} == {
        "DOCK": 4,
        "QUARANTINE": 0,
    }
    # Nothing more is on its way: the lost lamp is promised to no one.
    after = sf.orders.capture(order("cgn-shop", ("LAMP", 1)))
    assert (after.status, after.promise_date) == ("backordered", None)

    with pytest.raises(IllegalTransferStep) as twice:
        sf.transfers.receive(sent.id, [ReceiveLine(1, received=5, damaged=1)])
    assert "received already" in twice.value.detail
    assert sf.transfers.transfer(sent.id) == got
    assert_books_balance(sf)


def test_the_ledger_says_where_every_unit_of_a_transfer_went(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 6, "HAM")
    sent = ship(sf, TransferLineIn("LAMP", 6))
    sf.transfers.receive(sent.id, [ReceiveLine(1, received=5, damaged=1)])
    with sf.db.read() as conn:
        rows = conn.execute(
            select(stock_moves.c.reason, stock_moves.c.qty, stock_moves.c.note)
            .where(stock_moves.c.reference == sent.id)
            .order_by(stock_moves.c.id)
        ).all()
    assert [(r.reason, r.qty) for r in rows] == [
        ("transfer_out", 6),
        ("transfer_in", 4),
        ("transfer_in", 1),
        ("adjustment", 1),
    ]
    assert rows[-1].note == f"lost in transit on transfer {sent.id}"
    assert_books_balance(sf)


def test_more_arriving_than_was_shipped_is_booked_in_and_raised(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 3, "HAM")
    sent = ship(sf, TransferLineIn("LAMP", 3))
    got = sf.transfers.receive(sent.id, [ReceiveLine(1, received=5)])
    [line] = got.lines
    assert (line.received, line.lost, line.over) == (5, 0, 2)
    assert on_hand(sf, "LAMP") == {("CGN", "DOCK", None): 5}
    [raised] = [e for e in sf.orders.exceptions() if e.kind == "transfer_discrepancy"]
    assert "2 more than shipped" in raised.message
    assert_books_balance(sf)


def test_a_clean_arrival_raises_nothing_and_makes_no_quarantine_bin(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 3, "HAM")
    sent = ship(sf, TransferLineIn("LAMP", 3))
    sf.transfers.receive(sent.id, [ReceiveLine(1, received=3)])
    assert [e for e in sf.orders.exceptions() if e.kind == "transfer_discrepancy"] == []
    assert {p.bin for p in sf.positions(location="CGN")} == {"DOCK"}
    assert_books_balance(sf)


# which units leave -----------------------------------------------------------------------


def test_lots_leave_first_expiring_first_never_expired_never_promised(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    today = clock.today()
    for lot, qty, expires in (("OLD", 5, today), ("SOON", 4, today + timedelta(days=5)),
                              ("LATE", 10, today + timedelta(days=60))):  # fmt: skip
        stock(sf, "MILK", qty, "HAM", lot=lot, expires_on=expires)
    promised = sf.orders.capture(order("ham-shop", ("MILK", 3)))  # takes 3 of SOON
    assert promised.status == "allocated"

    sent = ship(sf, TransferLineIn("MILK", 6))
    # OLD expired today: it stays. SOON has 1 free unit, LATE gives the other 5.
    assert [(ln.lot, ln.shipped) for ln in sent.lines] == [("SOON", 1), ("LATE", 5)]
    assert {k: v for k, v in on_hand(sf, "MILK").items() if k[0] == "TRANSIT-CGN"} == {
        ("TRANSIT-CGN", "MAIN", "SOON"): 1,
        ("TRANSIT-CGN", "MAIN", "LATE"): 5,
    }
    with pytest.raises(ExpiredLot):
        ship(sf, TransferLineIn("MILK", 1, lot="OLD"))
    with pytest.raises(InsufficientStock) as short:
        ship(sf, TransferLineIn("MILK", 6, lot="LATE"))
    assert short.value.available == 5

    got = sf.transfers.receive(sent.id, [ReceiveLine(1, 1), ReceiveLine(2, 5, damaged=2)])
    assert [(ln.lot, ln.received, ln.damaged) for ln in got.lines] == [
        ("SOON", 1, 0),
        ("LATE", 5, 2),
    ]
    cologne = {k: v for k, v in on_hand(sf, "MILK").items() if k[0] == "CGN"}
    assert cologne == {
        ("CGN", "DOCK", "SOON"): 1,
        ("CGN", "DOCK", "LATE"): 3,
        ("CGN", "QUARANTINE", "LATE"): 2,
    }
    assert_books_balance(sf)


def test_only_storage_bins_give_stock_to_a_transfer(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 2, "HAM")
    first = ship(sf, TransferLineIn("LAMP", 2), to="MUC")
    sf.transfers.receive(first.id, [ReceiveLine(1, 2)])  # now on MUC's dock, not in storage
    with pytest.raises(InsufficientStock) as refused:
        sf.transfers.ship(
            from_location="MUC", to_location="CGN", lines=[TransferLineIn("LAMP", 1)],
            expected_on=sf.today(),
        )  # fmt: skip
    assert refused.value.available == 0
    assert_books_balance(sf)


# bad input -----------------------------------------------------------------------------------


def test_bad_transfers_are_refused_with_the_field_at_fault(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 5, "HAM")
    today = sf.today()

    def refused(**kw: object) -> StockflowError:
        args: dict[str, object] = {
            "from_location": "HAM", "to_location": "CGN",
            "lines": [TransferLineIn("LAMP", 1)], "expected_on": today,
        } | kw  # fmt: skip
        with pytest.raises(StockflowError) as caught:
            sf.transfers.ship(**args)  # type: ignore[arg-type]
        return caught.value

    assert refused(to_location="HAM").field == "to"
    assert refused(lines=[]).field == "lines"
    assert refused(lines=[TransferLineIn("LAMP", 0)]).field == "lines[0].qty"
    assert refused(lines=[TransferLineIn("LAMP", 1), TransferLineIn("LAMP", 2)]).field == (
        "lines[1].sku"
    )
    assert isinstance(refused(lines=[TransferLineIn("NOPE", 1)]), UnknownSku)
    assert refused(lines=[TransferLineIn("LAMP", 1, lot="L1")]).field == "lines[0].lot"
    assert refused(expected_on=today - timedelta(days=1)).field == "expected_on"
    assert refused(to_location="NOWHERE").field == "to"
    sf.add_locations([NewLocation("SUP", "A supplier", kind="supplier")])
    assert refused(to_location="SUP").field == "to"

    sent = ship(sf, TransferLineIn("LAMP", 2))
    assert refused(from_location="TRANSIT-CGN").field == "from"  # not a site
    for lines, field in (
        ([], "lines"),  # every line must be said
        ([ReceiveLine(2, 1)], "lines[0]"),
        ([ReceiveLine(1, 1), ReceiveLine(1, 1)], "lines[1].line_no"),
        ([ReceiveLine(1, 1, damaged=2)], "lines[0].damaged"),
        ([ReceiveLine(1, -1)], "lines[0].received"),
    ):
        with pytest.raises(InvalidInput) as bad:
            sf.transfers.receive(sent.id, lines)
        assert bad.value.field == field
    with pytest.raises(UnknownTransfer):
        sf.transfers.receive("TR-NOPE", [ReceiveLine(1, 1)])
    assert sf.transfers.transfer(sent.id).status == "in_transit"
    assert on_hand(sf, "LAMP") == {("HAM", "MAIN", None): 3, ("TRANSIT-CGN", "MAIN", None): 2}
    assert_books_balance(sf)


def test_a_retried_shipment_or_receipt_takes_effect_once(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 5, "HAM")
    first = ship(sf, TransferLineIn("LAMP", 2), idempotency_key="tr-1")
    again = ship(sf, TransferLineIn("LAMP", 2), idempotency_key="tr-1")
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    with pytest.raises(IdempotencyKeyReused):
        ship(sf, TransferLineIn("LAMP", 3), idempotency_key="tr-1")
    assert len(sf.transfers.transfers()) == 1

    got = sf.transfers.receive(first.id, [ReceiveLine(1, 2)], idempotency_key="rc-1")
    retried = sf.transfers.receive(first.id, [ReceiveLine(1, 2)], idempotency_key="rc-1")
    assert (retried.replayed, retried.lines) == (True, got.lines)
    with pytest.raises(IllegalTransferStep):
        sf.transfers.receive(first.id, [ReceiveLine(1, 1)], idempotency_key="rc-1")
    assert on_hand(sf, "LAMP")[("CGN", "DOCK", None)] == 2
    assert_books_balance(sf)


# under concurrency ---------------------------------------------------------------------------


def test_two_transfers_racing_for_the_last_units_never_oversend(shop: Stockflow) -> None:
    sf = shop
    stock(sf, "LAMP", 10, "HAM")
    start = threading.Barrier(6)
    outcomes: list[TransferView | StockflowError] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        start.wait()
        try:
            result: TransferView | StockflowError = ship(
                sf, TransferLineIn("LAMP", 4), to=("CGN", "MUC")[n % 2]
            )
        except InsufficientStock as exc:
            result = exc
        with lock:
            outcomes.append(result)

    run_in_threads(6, send)
    sent = [o for o in outcomes if isinstance(o, TransferView)]
    assert len(sent) == 2  # 4 + 4 of 10; a third would need 4 of the 2 left
    assert on_hand(sf, "LAMP")[("HAM", "MAIN", None)] == 2
    assert_books_balance(sf)


# the rules on their own ------------------------------------------------------------------------


def test_a_receipt_splits_into_transit_units_extras_and_losses() -> None:
    s = split_receipt(6, 5, 1)
    assert (s.good_from_transit, s.damaged_from_transit, s.lost, s.over) == (4, 1, 1, 0)
    s = split_receipt(3, 5, 1)  # two extra, one damaged: the extras are booked in as good
    assert (s.good_from_transit, s.damaged_from_transit, s.extra_good, s.extra_damaged) == (
        3, 0, 1, 1,
    )  # fmt: skip
    assert s.lost == 0
    assert s.over == 2
    s = split_receipt(4, 0, 0)
    assert (s.good_from_transit, s.lost) == (0, 4)


def test_a_receipt_must_account_for_every_line_once() -> None:
    lines = checked_receipt([ReceiveLine(2, 3), ReceiveLine(1, 0)], [1, 2])
    assert lines == {1: ReceiveLine(1, 0), 2: ReceiveLine(2, 3)}
    with pytest.raises(InvalidInput, match="line\\(s\\) 2"):
        checked_receipt([ReceiveLine(1, 1)], [1, 2])


def test_the_transfer_lifecycle_has_one_way_out_of_transit() -> None:
    receive = TransferEvent.RECEIVE
    assert next_transfer_status("in_transit", receive, transfer_id="T") is TransferStatus.RECEIVED
    with pytest.raises(IllegalTransferStep, match="T was received already"):
        next_transfer_status("received", receive, transfer_id="T")
    with pytest.raises(IllegalTransferStep, match="T is cancelled"):
        next_transfer_status("cancelled", receive, transfer_id="T")


def test_picks_go_first_expiring_first_then_walking_order() -> None:
    today = date(2031, 3, 3)

    def source(pid: int, seq: int, expires: date | None, free: int) -> Source:
        return Source(pid, 1, f"B{seq}", seq, f"L{pid}", expires, free)

    sources = [
        source(1, 1, None, 5),
        source(2, 9, today + timedelta(days=9), 5),
        source(3, 2, today + timedelta(days=2), 1),
        source(4, 1, today, 7),  # expires today: may not leave
        source(5, 3, None, 0),  # nothing free
    ]
    ranked = usable(sources, today=today)
    assert [s.position_id for s in ranked] == [3, 2, 1]
    picks = plan_picks(ranked, 4)
    assert [(p.source.position_id, p.qty) for p in picks] == [(3, 1), (2, 3)]
    assert sum(p.qty for p in plan_picks(ranked, 100)) == 11
