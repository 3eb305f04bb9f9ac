"""One stock's whole life in a warehouse, on SQLite and PostgreSQL.

Bought, received short and partly damaged, put away, sold, picked short,
re-allocated, packed (a wrong scan refused), shipped, delivered, returned,
inspected, and finally counted with a variance a second person approves.
After every step the books balance: ``verify`` is clean (every position's
on hand equals the sum of its moves), allocated equals what open orders hold,
and no finished order holds a unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from order_shop import Clock, add_channel, add_skus, assert_books_balance, open_shop, order
from stockflow.adapters.parcels import Parcel
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch, WrongScan
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, NewSupplier, POLineIn, Receive
from stockflow.receiving.rules.purchasing import ReceiptLineIn as Arrived
from stockflow.receiving.rules.putaway import ConfirmPutaway
from stockflow.returns.rules import (
    AuthoriseReturn,
    InspectReturn,
    ReceiveLineIn,
    ReceiveReturn,
    ReturnLineIn,
)
from stockflow.stock.rules.catalogue import NewBin


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    sf = open_shop(db_url, Clock())
    sf.add_bins([NewBin("HAM", "A-01", "A", 10), NewBin("HAM", "A-02", "A", 20)])
    add_skus(sf, "WIDGET", "GADGET", "SPROCKET", price="10.00")
    add_channel(sf, "WEB")
    yield sf
    sf.close()


def available(sf: Stockflow, sku: str) -> int:
    return sum(a.available for a in sf.atp([sku]))


def open_kinds(sf: Stockflow) -> list[tuple[str, str | None]]:
    return sorted((e.kind, e.reference) for e in sf.orders.exceptions() if e.state == "open")


def test_bought_received_sold_picked_short_shipped_returned_and_counted(shop: Stockflow) -> None:
    sf = shop
    # Purchase order, received with one line short and one unit damaged.
    sf.receiving.add_supplier(NewSupplier("ACME", "Acme Parts", 3))
    po = sf.receiving.place_order(
        NewPurchaseOrder(
            "ACME",
            "HAM",
            (POLineIn("WIDGET", 10, Decimal("4.00")), POLineIn("GADGET", 6, Decimal("2.00"))),
        )
    )
    receipt = sf.receiving.receive(
        Receive((Arrived("WIDGET", 8), Arrived("GADGET", 6, damaged_qty=1)), po_id=po.id)
    )
    assert sorted(k for k, ref in open_kinds(sf) if ref == receipt.id) == [
        "receiving_discrepancy", "receiving_discrepancy"
    ]  # fmt: skip
    assert available(sf, "GADGET") == 5  # the damaged unit waits in quarantine
    assert {p.bin for p in sf.positions(sku="GADGET") if p.on_hand} == {"DOCK", "QUARANTINE"}
    assert_books_balance(sf)

    # Put away: the home bin is suggested; a different scanned bin is allowed.
    sf.receiving.set_home_bin(location="HAM", sku="WIDGET", bin_code="A-01")
    assert sf.receiving.suggest_putaway(location="HAM", sku="WIDGET", qty=3).bin == "A-01"
    sf.receiving.confirm_putaway(ConfirmPutaway("HAM", "WIDGET", 3, "A-01"))
    sf.receiving.confirm_putaway(ConfirmPutaway("HAM", "WIDGET", 5, "A-02"))
    sf.receiving.confirm_putaway(ConfirmPutaway("HAM", "GADGET", 5, "A-02"))
    assert_books_balance(sf)

    # An order; its widgets come from A-01 first in walking order, where one is missing.
    sold = sf.orders.capture(order("WEB", ("WIDGET", 3), ("GADGET", 2)))
    assert sold.status == "allocated"
    wave = sf.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    widget = next(t for t in wave.tasks if t.sku == "WIDGET")
    short = sf.floor.confirm_pick(widget.id, widget.qty - 1, actor="picker", left_in_bin=0)
    assert short.short == 1
    assert short.orders == {sold.id: "picking"}
    assert ("short_pick", f"short-pick:{widget.id}") in open_kinds(sf)
    assert_books_balance(sf)
    for task in sf.floor.wave(wave.id).tasks:
        if task.status == "open":
            sf.floor.confirm_pick(task.id, task.qty, actor="picker")
    assert sf.floor.wave(wave.id).status == "done"

    # Pack with scan verification, ship, deliver.
    with pytest.raises(WrongScan):
        sf.floor.pack_scan(sold.id, "SPROCKET")
    sf.floor.pack_scan(sold.id, "WIDGET", qty=3)
    parcel = sf.floor.pack_scan(sold.id, "GADGET", qty=2)
    sf.floor.add_package(parcel.id, Parcel(2000, 300, 300, 300))
    shipped = sf.floor.ship(parcel.id, Dispatch("flat"))
    assert shipped.tracking_no is not None
    sf.floor.track(shipped.tracking_no, "in_transit")
    sf.floor.track(shipped.tracking_no, "delivered")
    assert sf.orders.order(sold.id).status == "delivered"
    assert_books_balance(sf)

    # Two widgets and a gadget come back: one restocked, one quarantined, one scrapped.
    before = available(sf, "WIDGET")
    rma = sf.returns.authorise(
        AuthoriseReturn(sold.id, (ReturnLineIn(1, 2), ReturnLineIn(2, 1)), "arrived scratched")
    )
    sf.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 2), ReceiveLineIn(2, 1))))
    assert available(sf, "WIDGET") == before
    sf.returns.inspect(InspectReturn(rma.id, 1, "restock", 1))
    sf.returns.inspect(InspectReturn(rma.id, 1, "quarantine", 1, note="scratches"))
    done = sf.returns.inspect(InspectReturn(rma.id, 2, "scrap", 1, note="crushed"))
    assert done.status == "closed"
    assert available(sf, "WIDGET") == before + 1
    assert_books_balance(sf)

    # A blind count of zone A; A-02 is two widgets short, beyond tolerance: approval needed.
    count = sf.counts.create(location="HAM", scope=CountScope("zone", zone="A"), actor="lead")
    sheet = sf.counts.sheet(count.id)
    assert all(line.counted is None for line in sheet.lines)
    books = {(p.bin, p.sku): p.on_hand for p in sf.positions(location="HAM")}
    for line in sheet.lines:
        found = books[(line.bin, line.sku)] - (
            2 if (line.bin, line.sku) == ("A-02", "WIDGET") else 0
        )
        sf.counts.submit(count.id, line.line_no, found, actor="counter")
    waiting = [ln for ln in sf.counts.count(count.id).lines if ln.status == "pending_approval"]
    assert [(ln.bin, ln.sku) for ln in waiting] == [("A-02", "WIDGET")]
    assert ("count_variance", count.id) in open_kinds(sf)
    sf.counts.approve(count.id, waiting[0].line_no, actor="lead")
    after = {(p.bin, p.sku): p.on_hand for p in sf.positions(location="HAM")}
    assert after[("A-02", "WIDGET")] == books[("A-02", "WIDGET")] - 2
    assert sf.counts.count(count.id).status == "closed"
    assert_books_balance(sf)
