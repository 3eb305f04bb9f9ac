"""Purchasing and receiving as the dock lives it, on SQLite and PostgreSQL.

A supplier, a purchase order and its ASN; a truck with a short line and a
damaged one; exceptions in the queue; quarantine kept out of ATP; the waiting
customer served at the dock; putaway to the home bin. Every story ends with
the books balanced.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from order_shop import Clock, add_channel, open_shop, order
from receiving_shop import (
    assert_balanced,
    bins_of,
    buy,
    discrepancy_refs,
    held_for,
    stock_the_floor,
)
from stockflow.adapters.tables import incoming_supply, receipt_lines, receipts, stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    IdempotencyKeyReused,
    InactiveSku,
    InvalidInput,
    StockflowError,
    UnknownSku,
)
from stockflow.receiving.rules.purchasing import (
    AsnLineIn,
    IllegalPOTransition,
    NewAsn,
    NewPurchaseOrder,
    NewSupplier,
    POLineIn,
    ReceiptLineIn,
    Receive,
    UnknownPurchaseOrder,
)
from stockflow.receiving.rules.putaway import ConfirmPutaway, QuarantineDecision
from stockflow.stock.rules.catalogue import NewSku


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """HAM with storage bins A-01, A-02 (zone A) and B-01 (zone B); SKUs BOLT and NUT; ACME."""
    sf = open_shop(db_url, clock)
    stock_the_floor(sf, "BOLT", "NUT")
    add_channel(sf, "web")
    yield sf
    sf.close()


def written(sf: Stockflow) -> tuple[int, int, int, int]:
    """Receipts, receipt lines, ledger moves and units received on PO lines so far."""
    with sf.db.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(receipts)).scalar_one(),
            conn.execute(select(func.count()).select_from(receipt_lines)).scalar_one(),
            conn.execute(select(func.count()).select_from(stock_moves)).scalar_one(),
            conn.execute(select(func.coalesce(func.sum(incoming_supply.c.received_qty), 0)))
            .scalar_one(),
        )  # fmt: skip


# the story ------------------------------------------------------------------------------


def test_a_delivery_from_purchase_order_to_shelf(shop: Stockflow, clock: Clock) -> None:
    sf = shop
    # Monday: a customer wants 4 bolts. There are none, and none on order.
    waiting = sf.orders.capture(order("web", ("BOLT", 4)))
    assert (waiting.status, waiting.promise_date) == ("backordered", None)

    # Procurement orders bolts and nuts; the customer's promise date follows.
    po = sf.receiving.place_order(
        NewPurchaseOrder(
            "ACME",
            "HAM",
            (POLineIn("BOLT", 10, Decimal("0.25")), POLineIn("NUT", 20, Decimal("0.10"))),
            reference="ACME-SO-881",
        )
    )
    arrival = clock.today() + timedelta(days=5)
    assert (po.status, po.expected_on, po.total_cost) == ("open", arrival, Decimal("4.50"))
    assert sf.orders.order(waiting.id).promise_date == arrival

    # Acme announces the whole order.
    asn = sf.receiving.add_asn(NewAsn(po.id, (AsnLineIn(1, 10), AsnLineIn(2, 20))))
    assert (asn.expected_on, [(ln.sku, ln.qty) for ln in asn.lines]) == (
        arrival,
        [("BOLT", 10), ("NUT", 20)],
    )

    # Saturday: the truck brings 8 bolts, and 20 nuts of which 3 are crushed.
    clock.advance(days=5)
    receipt = sf.receiving.receive(
        Receive(
            (ReceiptLineIn("BOLT", 8), ReceiptLineIn("NUT", 20, damaged_qty=3)),
            asn_id=asn.id,
            actor="dock-1",
        )
    )
    assert (receipt.po_id, receipt.asn_id, receipt.location) == (po.id, asn.id, "HAM")
    seen = [(ln.sku, ln.po_line_no, ln.expected, ln.received, ln.damaged) for ln in receipt.lines]
    assert seen == [("BOLT", 1, 10, 8, 0), ("NUT", 2, 20, 20, 3)]  # fmt: skip
    assert [(d.sku, d.message) for d in receipt.discrepancies] == [
        (
            "BOLT",
            f"Receipt {receipt.id}: SKU BOLT short by 2 against ASN {asn.id} (PO {po.id} line 1)"
            " (expected 10, received 8)",
        ),
        (
            "NUT",
            f"Receipt {receipt.id}: 3 of 20 units of SKU NUT arrived damaged;"
            " held in quarantine bin QUARANTINE at HAM",
        ),
    ]
    # Both sides see them in the one queue, each pointing at the receipt.
    queue = sf.orders.exceptions(kind="receiving_discrepancy")
    assert sorted((e.sku, e.state) for e in queue) == [("BOLT", "open"), ("NUT", "open")]
    assert discrepancy_refs(sf) == [(receipt.id, "BOLT"), (receipt.id, "NUT")]

    after = sf.receiving.purchase_order(po.id)
    assert after.status == "partially_received"
    assert [(ln.received, ln.damaged, ln.outstanding) for ln in after.lines] == [
        (8, 0, 2),
        (20, 3, 0),
    ]

    # Crushed nuts are on hand in quarantine, never available.
    assert bins_of(sf, "NUT") == {"DOCK": (17, 0), "QUARANTINE": (3, 0)}
    nut = sf.atp(["NUT"])[0]
    assert (nut.on_hand, nut.available) == (17, 17)

    # The waiting customer was served from the dock as soon as the receipt committed.
    assert sf.orders.order(waiting.id).status == "allocated"
    assert bins_of(sf, "BOLT") == {"DOCK": (8, 4)}

    # Putaway: bolts live in A-02; the promised four go along with their promise.
    sf.receiving.set_home_bin(location="HAM", sku="BOLT", bin_code="A-02")
    hint = sf.receiving.suggest_putaway(location="HAM", sku="BOLT", qty=8)
    assert (hint.bin, hint.reason) == ("A-02", "home bin of the SKU (no capacity limit)")
    done = sf.receiving.confirm_putaway(ConfirmPutaway("HAM", "BOLT", 8, "A-02", actor="dock-1"))
    assert (done.from_bin, done.to_bin, done.qty, done.note) == ("DOCK", "A-02", 8, None)
    assert bins_of(sf, "BOLT") == {"A-02": (8, 4)}
    assert held_for(sf, waiting.id) == {"A-02": 4}

    # Quality looks at the nuts: one is fine after all, two go in the skip.
    sf.receiving.release_from_quarantine(
        QuarantineDecision("HAM", "NUT", 1, "only the box was dented", to_bin="A-01")
    )
    sf.receiving.scrap_from_quarantine(QuarantineDecision("HAM", "NUT", 2, "threads stripped"))
    assert bins_of(sf, "NUT") == {"DOCK": (17, 0), "A-01": (1, 0)}
    assert sf.atp(["NUT"])[0].available == 18
    assert_balanced(sf)


# refusals: a bad line writes nothing ---------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "error", "field"),
    [
        ((ReceiptLineIn("BOLT", 5), ReceiptLineIn("WIDGET", 1)), UnknownSku, "lines[1].sku"),
        ((ReceiptLineIn("BOLT", 5), ReceiptLineIn("NUT", -2)), InvalidInput,
         "lines[1].received_qty"),
        ((ReceiptLineIn("BOLT", 2, damaged_qty=3),), InvalidInput, "lines[0].damaged_qty"),
        ((ReceiptLineIn("BOLT", 2, damaged_qty=-1),), InvalidInput, "lines[0].damaged_qty"),
        ((ReceiptLineIn("NUT", 2), ReceiptLineIn("BOLT", 2, lot="L1")), InvalidInput,
         "lines[1].lot"),
        ((ReceiptLineIn("SERUM", 2),), InvalidInput, "lines[0].lot"),
        ((ReceiptLineIn("NUT", 2, po_line_no=1),), InvalidInput, "lines[0].po_line_no"),
        ((ReceiptLineIn("BOLT", 2, po_line_no=9),), InvalidInput, "lines[0].po_line_no"),
        ((ReceiptLineIn("OLD", 2),), InactiveSku, "lines[0].sku"),
        ((ReceiptLineIn("BOLT", 0),), InvalidInput, "lines"),
    ],
)  # fmt: skip
def test_a_receipt_with_a_bad_line_is_refused_whole_and_names_the_line(
    shop: Stockflow, lines: tuple[ReceiptLineIn, ...], error: type[StockflowError], field: str
) -> None:
    sf = shop
    sf.add_skus([NewSku("SERUM", "Serum", lot_tracked=True), NewSku("OLD", "Old", active=False)])
    po = buy(sf, ("BOLT", 10), ("NUT", 10))
    before = written(sf)
    with pytest.raises(error) as refused:
        sf.receiving.receive(Receive(lines, po_id=po.id))
    assert refused.value.field == field
    assert written(sf) == before
    assert bins_of(sf, "BOLT") == {}
    assert discrepancy_refs(sf) == []
    assert sf.receiving.purchase_order(po.id).status == "open"


def test_a_blind_receipt_must_say_where_and_may_not_name_po_lines(shop: Stockflow) -> None:
    with pytest.raises(InvalidInput) as nowhere:
        shop.receiving.receive(Receive((ReceiptLineIn("BOLT", 1),)))
    assert nowhere.value.field == "location"
    with pytest.raises(InvalidInput) as lines:
        shop.receiving.receive(Receive((ReceiptLineIn("BOLT", 1, po_line_no=1),), location="HAM"))
    assert lines.value.field == "lines[0].po_line_no"


def test_a_closed_or_cancelled_purchase_order_takes_no_receipt(shop: Stockflow) -> None:
    sf = shop
    closed, cancelled = buy(sf, ("BOLT", 10)), buy(sf, ("BOLT", 10))
    sf.receiving.close_order(closed.id)
    sf.receiving.cancel_order(cancelled.id)
    before = written(sf)
    for po in (closed, cancelled):
        with pytest.raises(IllegalPOTransition) as refused:
            sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 10),), po_id=po.id))
        assert refused.value.status == 409
    assert written(sf) == before
    with pytest.raises(UnknownPurchaseOrder):
        sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 1),), po_id="PO-NOPE"))
    with pytest.raises(IllegalPOTransition):
        sf.receiving.add_asn(NewAsn(closed.id, (AsnLineIn(1, 10),)))


def test_a_retried_receipt_takes_effect_once_and_a_reused_key_is_refused(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 10))
    cmd = Receive((ReceiptLineIn("BOLT", 6, damaged_qty=1),), po_id=po.id, idempotency_key="k1")
    first = sf.receiving.receive(cmd)
    again = sf.receiving.receive(cmd)
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert bins_of(sf, "BOLT") == {"DOCK": (5, 0), "QUARANTINE": (1, 0)}
    assert len(discrepancy_refs(sf)) == 2  # short 4, damaged 1: raised once
    before = written(sf)
    for other in (
        Receive((ReceiptLineIn("BOLT", 7, damaged_qty=1),), po_id=po.id, idempotency_key="k1"),
        Receive((ReceiptLineIn("BOLT", 6, damaged_qty=1),), location="HAM", idempotency_key="k1"),
    ):
        with pytest.raises(IdempotencyKeyReused):
            sf.receiving.receive(other)
    assert written(sf) == before
    assert sf.receiving.purchase_order(po.id).lines[0].received == 6


# the purchase order's life ---------------------------------------------------------------


def test_a_purchase_order_is_received_in_parts_then_closed(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 10), ("NUT", 5))
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 10),), po_id=po.id))
    assert sf.receiving.purchase_order(po.id).status == "partially_received"
    # The nuts come in one over; over-receipts are recorded, not refused.
    late = sf.receiving.receive(Receive((ReceiptLineIn("NUT", 6),), po_id=po.id))
    assert [(ln.expected, ln.received) for ln in late.lines] == [(5, 6)]
    assert [d.message for d in late.discrepancies] == [
        f"Receipt {late.id}: SKU NUT over by 1 against PO {po.id} line 2 (expected 5, received 6)"
    ]
    received = sf.receiving.purchase_order(po.id)
    assert (received.status, [ln.outstanding for ln in received.lines]) == ("received", [0, 0])
    # A straggler after the last unit is still booked in against the PO.
    extra = sf.receiving.receive(Receive((ReceiptLineIn("NUT", 1),), po_id=po.id))
    assert [ln.expected for ln in extra.lines] == [0]
    with pytest.raises(IllegalPOTransition) as refused:
        sf.receiving.cancel_order(po.id)
    assert refused.value.field == "status"
    assert sf.receiving.close_order(po.id).status == "closed"
    assert sf.receiving.close_order(po.id).status == "closed"  # a retried close changes nothing
    assert [p.id for p in sf.receiving.purchase_orders(status="closed")] == [po.id]
    assert list(sf.receiving.purchase_orders(status="open")) == []
    assert_balanced(sf)


def test_a_sku_not_on_the_order_is_booked_in_as_unannounced(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 10))
    receipt = sf.receiving.receive(
        Receive((ReceiptLineIn("BOLT", 10), ReceiptLineIn("NUT", 3)), po_id=po.id)
    )
    assert [(ln.sku, ln.po_line_no, ln.expected) for ln in receipt.lines] == [
        ("BOLT", 1, 10),
        ("NUT", None, 0),
    ]
    assert [d.message for d in receipt.discrepancies] == [
        f"Receipt {receipt.id}: 3 units of SKU NUT arrived unannounced: not on PO {po.id}"
    ]
    assert sf.receiving.purchase_order(po.id).status == "received"
    assert bins_of(sf, "NUT") == {"DOCK": (3, 0)}


def test_an_asn_line_nothing_came_for_is_short_and_written_down(shop: Stockflow) -> None:
    sf = shop
    po = buy(sf, ("BOLT", 10), ("NUT", 4))
    asn = sf.receiving.add_asn(NewAsn(po.id, (AsnLineIn(1, 6), AsnLineIn(2, 4))))
    receipt = sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 6),), asn_id=asn.id))
    assert [(ln.sku, ln.expected, ln.received) for ln in receipt.lines] == [
        ("BOLT", 6, 6),
        ("NUT", 4, 0),
    ]
    assert [d.sku for d in receipt.discrepancies] == ["NUT"]
    assert "short by 4" in receipt.discrepancies[0].message


def test_a_blind_receipt_compares_nothing_but_still_quarantines_damage(shop: Stockflow) -> None:
    sf = shop
    receipt = sf.receiving.receive(
        Receive((ReceiptLineIn("BOLT", 5, damaged_qty=2),), location="HAM", note="no paperwork")
    )
    assert (receipt.po_id, receipt.note) == (None, "no paperwork")
    assert [(ln.expected, ln.received, ln.damaged) for ln in receipt.lines] == [(None, 5, 2)]
    assert [d.sku for d in receipt.discrepancies] == ["BOLT"]
    assert bins_of(sf, "BOLT") == {"DOCK": (3, 0), "QUARANTINE": (2, 0)}


def test_a_retried_purchase_order_is_placed_once(shop: Stockflow) -> None:
    sf = shop
    first = buy(sf, ("BOLT", 10), idempotency_key="po-1")
    again = buy(sf, ("BOLT", 10), idempotency_key="po-1")
    assert (again.id, again.replayed) == (first.id, True)
    assert len(sf.receiving.purchase_orders()) == 1
    with pytest.raises(IdempotencyKeyReused):
        buy(sf, ("BOLT", 11), idempotency_key="po-1")
    with pytest.raises(UnknownSku) as unknown:
        buy(sf, ("BOLT", 1), ("WIDGET", 1))
    assert unknown.value.field == "lines[1].sku"
    with pytest.raises(InvalidInput) as past:
        buy(sf, ("BOLT", 1), expected_on=first.expected_on - timedelta(days=30))
    assert past.value.field == "expected_on"
    assert len(sf.receiving.purchase_orders()) == 1


# promise dates ---------------------------------------------------------------------------


def test_promise_dates_follow_purchase_orders_and_forget_ended_ones(
    shop: Stockflow, clock: Clock
) -> None:
    sf = shop
    today = clock.today()
    add_channel(sf, "trade", allow_partial=True)
    waiting = sf.orders.capture(order("trade", ("BOLT", 3)))
    assert waiting.promise_date is None
    slow = buy(sf, ("BOLT", 10))  # in 5 days, ACME's lead time
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=5)
    fast = buy(sf, ("BOLT", 6), expected_on=today + timedelta(days=2))
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=2)
    # Two arrive early; the last one is still due with the fast order.
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 2),), po_id=fast.id))
    assert sf.orders.order(waiting.id).status == "partially_allocated"
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=2)
    # The supplier will not send the rest of the fast order: it is closed.
    sf.receiving.close_order(fast.id)
    assert sf.orders.order(waiting.id).promise_date == today + timedelta(days=5)
    sf.receiving.cancel_order(slow.id)
    assert sf.orders.order(waiting.id).promise_date is None
    assert_balanced(sf)


def test_a_new_purchase_order_covering_a_waiting_order_exactly_gives_it_a_date(
    shop: Stockflow, clock: Clock
) -> None:
    waiting = shop.orders.capture(order("web", ("BOLT", 6)))
    buy(shop, ("BOLT", 10))
    assert shop.orders.order(waiting.id).promise_date == clock.today() + timedelta(days=5)


def test_suppliers_are_listed_and_a_repeat_is_a_replay(shop: Stockflow) -> None:
    sf = shop
    again = sf.receiving.add_supplier(
        NewSupplier("ACME", "Acme Fasteners", 5, "orders@acme.example")
    )
    assert again.replayed
    sf.receiving.add_supplier(NewSupplier("BETA", "Beta Bolts", 0))
    assert [(s.code, s.lead_time_days) for s in sf.receiving.suppliers()] == [
        ("ACME", 5),
        ("BETA", 0),
    ]
    with pytest.raises(StockflowError) as clash:
        sf.receiving.add_supplier(NewSupplier("BETA", "Someone else", 3))
    assert (clash.value.status, clash.value.field) == (409, "code")
