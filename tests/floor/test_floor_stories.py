"""The warehouse floor as the pickers, packers and customer service live it, on both databases.

Each story ends with the books balanced: ``verify`` is clean, every
position's allocated equals what open orders hold there, and no finished
order holds a unit.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from order_shop import (
    Clock,
    add_channel,
    add_skus,
    assert_books_balance,
    open_shop,
    order,
)
from stockflow.adapters.parcels import Parcel, valid_tracking_number
from stockflow.adapters.tables import outbox
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.errors import Conflict, InvalidInput
from stockflow.floor.picking import WaveRequest
from stockflow.floor.queries import WaveView
from stockflow.floor.shipping import Dispatch, WrongScan
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.receiving.rules.putaway import ConfirmPutaway
from stockflow.stock.rules.catalogue import NewBin
from stockflow.stock.rules.commands import Place, PostMove


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """Hamburg with three bins on the walking path: B-01 (5), A-01 (10), A-02 (20)."""
    sf = open_shop(db_url, clock)
    sf.add_bins(
        [
            NewBin("HAM", "B-01", "B", 5),
            NewBin("HAM", "A-01", "A", 10),
            NewBin("HAM", "A-02", "A", 20),
        ]
    )
    add_skus(sf, "APPLE", "BERRY", price="2.50")
    add_channel(sf, "WEB")
    yield sf
    sf.close()


def put(sf: Stockflow, sku: str, qty: int, bin_code: str) -> None:
    sf.post_move(PostMove(sku, qty, "receipt", target=Place("HAM", bin_code)))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def task_for(wave: WaveView, order_id: str, sku: str, status: str = "open") -> int:
    found = [
        t.id for t in wave.tasks if t.order_id == order_id and t.sku == sku and t.status == status
    ]
    assert len(found) == 1, wave.tasks
    return found[0]


def test_order_to_doorstep_with_a_short_pick_re_allocated_and_a_wrong_scan_refused(
    shop: Stockflow,
) -> None:
    put(shop, "APPLE", 2, "A-01")
    put(shop, "APPLE", 10, "A-02")
    put(shop, "BERRY", 4, "B-01")
    first = shop.orders.capture(order("WEB", ("APPLE", 2), ("BERRY", 1)))
    assert first.status == "allocated"

    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    assert [t.bin for t in wave.tasks] == sorted(
        (t.bin for t in wave.tasks), key=["B-01", "A-01", "A-02"].index
    )
    assert shop.orders.order(first.id).status == "picking"
    sheet = pdf_text(shop.floor.pick_list_pdf(wave.id))
    assert wave.id in sheet
    assert "B-01" in sheet
    assert "APPLE" in sheet

    # The apple bin the order was given holds one unit, not two: a short pick.
    apple_task = task_for(wave, first.id, "APPLE")
    apple_bin = next(t.bin for t in wave.tasks if t.id == apple_task)
    result = shop.floor.confirm_pick(apple_task, 1, actor="picker-7", left_in_bin=0)
    assert result.short == 1
    assert result.orders == {first.id: "picking"}
    kinds = {(e.kind, e.order_id) for e in shop.orders.exceptions() if e.state == "open"}
    assert ("short_pick", first.id) in kinds
    with shop.db.read() as conn:
        events = conn.execute(select(outbox.c.topic, outbox.c.key, outbox.c.payload)).all()
    assert any(
        topic == "exception.opened"
        and payload["order_id"] == first.id
        and payload["kind"] == "short_pick"
        and key == str(payload["exception_id"])
        for topic, key, payload in events
    )
    bin_after = [p for p in shop.positions(sku="APPLE") if p.bin == apple_bin]
    assert bin_after[0].on_hand == 0
    assert_books_balance(shop)

    # The missing unit was re-allocated from the other bin and is on the same pick list.
    wave = shop.floor.wave(wave.id)
    follow_up = task_for(wave, first.id, "APPLE")
    assert next(t.bin for t in wave.tasks if t.id == follow_up) != apple_bin
    shop.floor.confirm_pick(follow_up, 1, actor="picker-7")
    shop.floor.confirm_pick(task_for(wave, first.id, "BERRY"), 1, actor="picker-7")
    assert shop.floor.wave(wave.id).status == "done"

    with pytest.raises(WrongScan, match="not a SKU"):
        shop.floor.pack_scan(first.id, "NOPE-123")
    shop.floor.pack_scan(first.id, "APPLE", qty=2)
    with pytest.raises(WrongScan, match="too many"):
        shop.floor.pack_scan(first.id, "APPLE")
    parcel = shop.floor.pack_scan(first.id, "BERRY")
    with pytest.raises(Conflict, match="no package"):
        shop.floor.ship(parcel.id, Dispatch("flat"))
    shop.floor.add_package(parcel.id, Parcel(1200, 300, 200, 150))
    shipped = shop.floor.ship(parcel.id, Dispatch("flat", "express"), actor="packer-2")
    assert shipped.tracking_no is not None
    assert valid_tracking_number(shipped.tracking_no)
    assert shipped.amount is not None
    assert shipped.amount > 0
    assert shop.orders.order(first.id).status == "shipped"
    assert [ln.shipped for ln in shop.orders.order(first.id).lines] == [2, 1]
    assert sum(p.on_hand for p in shop.positions(sku="APPLE")) == 12 - 2 - 1
    assert_books_balance(shop)

    label = pdf_text(shop.floor.label_pdf(parcel.id))
    assert shipped.tracking_no in label
    slip = pdf_text(shop.floor.packing_slip_pdf(parcel.id))
    assert first.id in slip
    assert "APPLE" in slip

    assert shop.floor.track(shipped.tracking_no, "in_transit").value == "in_transit"
    assert shop.floor.track(parcel.id, "delivered").value == "delivered"
    assert shop.orders.order(first.id).status == "delivered"
    with pytest.raises(Conflict):
        shop.floor.track(parcel.id, "in_transit")
    assert_books_balance(shop)


def test_a_short_pick_with_no_stock_left_backorders_the_order_and_tells_customer_service(
    shop: Stockflow,
) -> None:
    put(shop, "APPLE", 3, "A-01")
    mine = shop.orders.capture(order("WEB", ("APPLE", 3)))
    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    result = shop.floor.confirm_pick(task_for(wave, mine.id, "APPLE"), 1, actor="picker-1")
    assert result.orders == {mine.id: "partially_allocated"}
    view = shop.orders.order(mine.id)
    assert [(ln.allocated, ln.waiting) for ln in view.lines] == [(1, 2)]
    messages = [e.message for e in shop.orders.exceptions() if e.order_id == mine.id]
    assert any("short pick by picker-1" in m for m in messages)
    assert "waits for APPLE, promised for no date yet" in view.decisions
    assert_books_balance(shop)

    # Stock comes in: the order is filled; releasing it again sends a picker for the rest.
    put(shop, "APPLE", 5, "A-02")
    assert shop.orders.order(mine.id).status == "allocated"
    again = shop.floor.build_wave(WaveRequest("HAM"))
    assert again is not None
    assert [(t.bin, t.qty) for t in again.tasks] == [("A-02", 2)]
    shop.floor.confirm_pick(again.tasks[0].id, 2)
    parcel = shop.floor.pack_scan(mine.id, "APPLE", qty=3)
    shop.floor.add_package(parcel.id, Parcel(500, 100, 100, 100))
    shop.floor.ship(parcel.id, Dispatch("manual", tracking_no="HAND-42"))
    assert shop.orders.order(mine.id).status == "shipped"
    assert_books_balance(shop)


def test_a_cancelled_order_cannot_be_picked_and_its_units_stay_free(shop: Stockflow) -> None:
    put(shop, "APPLE", 3, "A-01")
    mine = shop.orders.capture(order("WEB", ("APPLE", 2)))
    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    shop.orders.cancel(mine.id, reason="customer changed their mind")
    with pytest.raises(Conflict, match="leave the units in the bin"):
        shop.floor.confirm_pick(wave.tasks[0].id, 2)
    assert sum(p.on_hand - p.allocated for p in shop.positions(sku="APPLE")) == 3
    assert_books_balance(shop)


def test_picking_more_than_asked_or_a_negative_count_is_refused_and_changes_nothing(
    shop: Stockflow,
) -> None:
    put(shop, "APPLE", 3, "A-01")
    mine = shop.orders.capture(order("WEB", ("APPLE", 2)))
    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    with pytest.raises(InvalidInput, match="between 0 and 2"):
        shop.floor.confirm_pick(wave.tasks[0].id, 3)
    with pytest.raises(InvalidInput, match="cannot be negative"):
        shop.floor.confirm_pick(wave.tasks[0].id, 1, left_in_bin=-1)
    assert shop.floor.wave(wave.id).tasks[0].status == "open"
    assert shop.orders.order(mine.id).status == "picking"
    assert_books_balance(shop)


def test_the_cli_builds_a_wave_and_writes_its_pick_list(
    shop: Stockflow, db_url: str, tmp_path: Path
) -> None:
    put(shop, "APPLE", 3, "A-01")
    put(shop, "BERRY", 2, "B-01")
    mine = shop.orders.capture(order("WEB", ("APPLE", 2), ("BERRY", 1), external_id="W-1001"))
    out = tmp_path / "wave.pdf"
    result = CliRunner().invoke(app, ["floor", "wave", "HAM", "--db", db_url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "B-01" in result.output
    sheet = pdf_text(out.read_bytes())
    assert "W-1001" in sheet  # the order number the channel gave, not the internal id
    assert mine.id not in sheet
    assert "APPLE" in sheet
    assert "BERRY" in sheet
    assert shop.orders.order(mine.id).status == "picking"
    again = CliRunner().invoke(app, ["floor", "wave", "HAM", "--db", db_url])
    assert again.exit_code == 1
    assert "no order at HAM is ready" in again.output


def test_cancelling_after_the_pick_asks_for_the_units_to_be_put_back(shop: Stockflow) -> None:
    put(shop, "APPLE", 3, "A-01")
    mine = shop.orders.capture(order("WEB", ("APPLE", 2)))
    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    shop.floor.confirm_pick(wave.tasks[0].id, 2)
    shop.orders.cancel(mine.id, reason="customer changed their mind")
    asks = [e.message for e in shop.orders.exceptions() if e.kind == "put_back"]
    assert asks == [
        f"2 x APPLE picked for cancelled order {mine.id} wait in staging: put them away"
    ]
    staged = [p for p in shop.positions(sku="APPLE") if p.bin == "STAGE"]
    assert [(p.on_hand, p.allocated) for p in staged] == [(2, 0)]
    assert_books_balance(shop)


def test_a_put_away_of_promised_units_sends_the_picker_to_their_new_bin(shop: Stockflow) -> None:
    mine = shop.orders.capture(order("WEB", ("APPLE", 2)))
    assert shop.orders.order(mine.id).status == "backordered"
    shop.receiving.receive(Receive((ReceiptLineIn("APPLE", 2),), location="HAM"))
    assert shop.orders.order(mine.id).status == "allocated"  # filled from the dock
    wave = shop.floor.build_wave(WaveRequest("HAM"))
    assert wave is not None
    assert [(t.bin, t.status) for t in wave.tasks] == [("DOCK", "open")]

    shop.receiving.confirm_putaway(ConfirmPutaway("HAM", "APPLE", 2, "A-02"))
    tasks = shop.floor.wave(wave.id).tasks
    assert sorted((t.bin, t.status) for t in tasks) == [("A-02", "open"), ("DOCK", "cancelled")]
    fresh = next(t for t in tasks if t.status == "open")
    shop.floor.confirm_pick(fresh.id, 2)
    assert shop.floor.wave(wave.id).status == "done"
    assert_books_balance(shop)
