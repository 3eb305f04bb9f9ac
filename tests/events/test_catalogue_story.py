"""The event catalogue as a business lives it, on both databases.

A web order waits for a purchase order; the delivery fills it; another waits
for nuts a transfer brings sooner, so its promise moves up; a held order is
looked at and released; the first order is picked, packed, shipped and
delivered; the second is cancelled; a count finds a bin short, a person
resolves the variance and a supervisor approves it; a customer sends a unit
back and it is restocked. After each step the outbox holds exactly the
events the step caused: topic, version, aggregate, key, scope and payload,
and who outside may be told of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from order_shop import Clock, add_channel, open_shop, order
from outbox_log import Log, Told, assert_last_told_is_now
from receiving_shop import buy, stock_the_floor
from stockflow.adapters.parcels import Parcel
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.events.rules import Envelope, visible_to
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.returns.rules import (
    AuthoriseReturn,
    InspectReturn,
    ReceiveLineIn,
    ReceiveReturn,
    ReturnLineIn,
)
from stockflow.stock.rules.access import Principal, Role, Scope
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.transfers.rules import ReceiveLine, TransferLineIn

WEB = {"channels": ["web"]}
WEB_HAM = {"channels": ["web"], "locations": ["HAM"]}
HAM = {"locations": ["HAM"]}

HAM_3PL = Principal("ham-logistics", Role.THREE_PL, Scope(locations=frozenset({"HAM"})))
MUC_3PL = Principal("muc-logistics", Role.THREE_PL, Scope(locations=frozenset({"MUC"})))
WEB_SHOP = Principal("web-shop", Role.MARKETPLACE, Scope(channels=frozenset({"web"})))
OTHER_SHOP = Principal("other-shop", Role.MARKETPLACE, Scope(channels=frozenset({"b2b"})))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """HAM (bins A-01, A-02, B-01), CGN, MUC; BOLT and NUT; supplier ACME; web ships from HAM."""
    sf = open_shop(db_url, clock)
    stock_the_floor(sf, "BOLT", "NUT")
    add_channel(sf, "web", ship_from=("HAM",))
    yield sf
    sf.close()


def shape(row: Told) -> tuple[str, int, str | None, str | None, object]:
    return (row.topic, row.version, row.aggregate, row.key, row.scope)


def who_hears(row: Told) -> set[str]:
    """Which of the partners above may be told of the event."""
    envelope = Envelope(
        row.id, row.topic, row.version, row.id, row.aggregate, row.key, 1,
        Clock()(), row.payload, row.scope,
    )  # fmt: skip
    partners = (HAM_3PL, MUC_3PL, WEB_SHOP, OTHER_SHOP)
    return {p.name for p in partners if visible_to(p, envelope)}


def test_a_business_day_told_as_events(shop: Stockflow, clock: Clock) -> None:
    log = Log(shop)
    po = buy(shop, ("BOLT", 5))
    assert log.new() == []  # supply.changed is for reactions inside only
    first = shop.orders.capture(order("web", ("BOLT", 3)))
    assert first.status == "backordered"
    promised = (clock.today() + timedelta(days=5)).isoformat()
    rows = log.new(stock=True)
    assert [shape(r) for r in rows] == [
        ("order.captured", 2, "order", first.id, WEB),
        ("order.backordered", 1, "order", first.id, WEB),
        ("order.promised", 1, "order", first.id, WEB),
        ("exception.opened", 1, "exception", rows[3].key, WEB),
    ]
    assert [r.payload for r in rows[:3]] == [
        {
            "order_id": first.id, "channel": "web", "status": "backordered", "external_id": None,
            "lines": [{"line_no": 1, "sku": "BOLT", "qty": 3}], "promised_on": promised,
        },
        {
            "order_id": first.id, "status": "backordered",
            "lines": [{"line_no": 1, "sku": "BOLT", "waiting": 3}],
        },
        {"order_id": first.id, "promised_on": promised, "previous": None},
    ]  # fmt: skip
    atp = rows[3].payload
    assert (atp["kind"], atp["order_id"], atp["location"]) == ("atp_failure", first.id, None)
    assert rows[3].key == str(atp["exception_id"])
    # Nothing held anywhere yet: the channel's partner hears of it, no site's does.
    assert who_hears(rows[0]) == {"web-shop"}

    # The delivery: receipt.posted names the PO's supplier; the order gets its bolts.
    receipt = shop.receiving.receive(Receive((ReceiptLineIn("BOLT", 5),), po_id=po.id))
    rows = log.new(stock=True)
    posted = log.one("receipt.posted", rows)
    assert shape(posted) == (
        "receipt.posted", 1, "receipt", receipt.id, {"locations": ["HAM"], "suppliers": ["ACME"]},
    )  # fmt: skip
    assert posted.payload == {
        "receipt_id": receipt.id, "location": "HAM", "po": po.id, "asn": None, "supplier": "ACME",
        "lines": [{"sku": "BOLT", "qty": 5, "damaged": 0, "lot": None}],
    }  # fmt: skip
    allocated = log.one("order.allocated", rows)
    assert shape(allocated) == ("order.allocated", 1, "order", first.id, WEB_HAM)
    assert allocated.payload == {
        "order_id": first.id, "status": "allocated",
        "lines": [{"line_no": 1, "sku": "BOLT", "allocated": 3, "location": "HAM"}],
    }  # fmt: skip
    assert who_hears(allocated) == {"ham-logistics", "web-shop"}
    resolved = log.one("exception.resolved", rows)
    assert (resolved.key, resolved.scope) == (str(atp["exception_id"]), WEB_HAM)
    assert {k: resolved.payload[k] for k in ("kind", "resolution", "by")} == {
        "kind": "atp_failure", "resolution": "the order got its stock", "by": "stockflow",
    }  # fmt: skip
    changed = [r for r in rows if r.topic == "stock.changed"]
    assert [(r.key, r.scope, r.payload["on_hand"], r.payload["allocated"]) for r in changed] == [
        ("BOLT@HAM", HAM, 5, 0),  # the receipt's transaction
        ("BOLT@HAM", HAM, 5, 3),  # the fill's
    ]

    # Nuts wait for a PO in five days; a transfer from Cologne brings them in two.
    shop.post_move(PostMove("NUT", 4, "receipt", target=Place("CGN", None)))
    buy(shop, ("NUT", 2))
    second = shop.orders.capture(order("web", ("NUT", 2)))
    log.new()
    sent = shop.transfers.ship(
        from_location="CGN", to_location="HAM", lines=[TransferLineIn("NUT", 2)],
        expected_on=clock.today() + timedelta(days=2),
    )  # fmt: skip
    rows = log.new()
    shipped_transfer = log.one("transfer.shipped", rows)
    assert shape(shipped_transfer) == (
        "transfer.shipped", 1, "transfer", sent.id, {"locations": ["CGN", "HAM"]},
    )  # fmt: skip
    assert shipped_transfer.payload == {
        "transfer_id": sent.id, "from": "CGN", "to": "HAM",
        "expected_on": (clock.today() + timedelta(days=2)).isoformat(),
        "lines": [{"line_no": 1, "sku": "NUT", "lot": None, "qty": 2}],
    }  # fmt: skip
    moved_up = log.one("order.promised", rows)
    assert (moved_up.key, moved_up.payload) == (
        second.id,
        {
            "order_id": second.id,
            "promised_on": (clock.today() + timedelta(days=2)).isoformat(),
            "previous": (clock.today() + timedelta(days=5)).isoformat(),
        },
    )
    shop.transfers.receive(sent.id, [ReceiveLine(1, 2)])
    rows = log.new()
    arrived = log.one("transfer.received", rows)
    assert arrived.payload["lines"] == [
        {"line_no": 1, "sku": "NUT", "lot": None, "shipped": 2, "received": 2, "damaged": 0,
         "lost": 0},
    ]  # fmt: skip
    assert log.one("order.allocated", rows).key == second.id

    # A held order: someone looks at it, then lets it go.
    held = shop.orders.capture(order("web", ("BOLT", 1), ship_to="Nowhere"))
    rows = log.new()
    assert held.status == "on_hold"
    assert [r.topic for r in rows] == ["order.captured", "order.allocated", "exception.opened"]
    hold = rows[2]
    assert (hold.payload["kind"], hold.scope) == ("order_on_hold", WEB_HAM)
    shop.orders.set_exception_state(int(hold.payload["exception_id"]), "acknowledged",
                                    actor="cs-ann")  # fmt: skip
    [seen] = log.new()
    assert (seen.topic, seen.key, seen.payload["by"]) == ("exception.acknowledged", hold.key,
                                                          "cs-ann")  # fmt: skip
    shop.orders.release_hold(held.id, actor="cs-ann")
    rows = log.new()
    released = log.one("order.released", rows)
    assert shape(released) == ("order.released", 1, "order", held.id, WEB_HAM)
    assert released.payload == {"order_id": held.id, "waiting": [], "status": "allocated"}
    assert log.one("exception.resolved", rows).payload["resolution"] == "the hold was released"

    # The first order goes out and arrives.
    wave = shop.floor.build_wave(WaveRequest("HAM", order_ids=(first.id,)))
    assert wave is not None
    for task in wave.tasks:
        shop.floor.confirm_pick(task.id, task.qty, actor="picker")
    parcel = shop.floor.pack_scan(first.id, "BOLT", qty=3)
    shop.floor.add_package(parcel.id, Parcel(800, 300, 200, 100))
    log.new()
    sent_off = shop.floor.ship(parcel.id, Dispatch("flat"), actor="packer")
    rows = log.new()
    assert [r.topic for r in rows] == ["order.shipped"]
    assert shape(rows[0]) == ("order.shipped", 1, "order", first.id, WEB_HAM)
    assert rows[0].payload == {
        "order_id": first.id, "shipment_id": parcel.id, "location": "HAM", "carrier": "flat",
        "service": "standard", "tracking": sent_off.tracking_no,
        "lines": [{"line_no": 1, "sku": "BOLT", "qty": 3}], "status": "shipped",
    }  # fmt: skip
    clock.advance(days=1)
    shop.floor.track(parcel.id, "delivered")
    [delivered] = log.new()
    assert shape(delivered) == ("order.delivered", 1, "order", first.id, WEB_HAM)
    assert delivered.payload == {
        "order_id": first.id, "shipment_id": parcel.id,
        "delivered_at": clock.now.isoformat().replace("+00:00", "Z"), "status": "delivered",
    }  # fmt: skip

    # The second order is cancelled: the site that held its nuts hears of it too.
    shop.orders.cancel(second.id, reason="found them cheaper")
    rows = log.new()
    cancelled = log.one("order.cancelled", rows)
    assert shape(cancelled) == ("order.cancelled", 2, "order", second.id, WEB_HAM)
    assert cancelled.payload == {
        "order_id": second.id, "line_no": None, "freed": ["NUT"], "waiting": [],
        "status": "cancelled",
    }  # fmt: skip
    assert who_hears(cancelled) == {"ham-logistics", "web-shop"}

    # A count finds A-01 one nut short, outside the tolerance.
    shop.post_move(PostMove("NUT", 3, "receipt", target=Place("HAM", "A-01")))
    count = shop.counts.create(location="HAM", scope=CountScope("bins", bins=("A-01",)))
    log.new()
    shop.counts.submit(count.id, 1, 2, actor="ola")
    rows = log.new()
    variance = log.one("count.variance", rows)
    assert shape(variance) == ("count.variance", 1, "count", count.id, HAM)
    assert variance.payload == {
        "count_id": count.id, "line_no": 1, "location": "HAM", "bin": "A-01", "sku": "NUT",
        "lot": None, "expected": 3, "counted": 2, "variance": -1, "status": "pending_approval",
    }  # fmt: skip
    opened = log.one("exception.opened", rows)
    assert (opened.payload["kind"], opened.payload["location"], opened.payload["sku"]) == (
        "count_variance", "HAM", "NUT",
    )  # fmt: skip
    assert (opened.payload["reference"], opened.scope) == (count.id, HAM)
    assert who_hears(opened) == set()  # neither partner role reads the exceptions queue
    shop.orders.set_exception_state(int(opened.payload["exception_id"]), "resolved",
                                    actor="sup-kim")  # fmt: skip
    [by_hand] = log.new()
    assert (by_hand.topic, by_hand.key, by_hand.scope) == ("exception.resolved", opened.key, HAM)
    assert (by_hand.payload["resolution"], by_hand.payload["by"]) == ("resolved by hand",
                                                                      "sup-kim")  # fmt: skip
    shop.counts.approve(count.id, 1, actor="sup-kim")
    rows = log.new(stock=True)
    assert [r.topic for r in rows] == ["count.variance", "stock.changed"]
    assert rows[0].payload["status"] == "approved"
    assert (rows[1].key, rows[1].payload["on_hand"]) == ("NUT@HAM", 4)

    # A unit of the first order comes back and goes back on the shelf.
    rma = shop.returns.authorise(AuthoriseReturn(first.id, (ReturnLineIn(1, 1),), "too many"))
    [authorised] = log.new()
    assert shape(authorised) == ("return.authorised", 2, "order", first.id, WEB_HAM)
    assert authorised.payload == {"rma_id": rma.id, "order_id": first.id, "units": 1}
    shop.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 1),)))
    log.new()
    shop.returns.inspect(InspectReturn(rma.id, 1, "restock", 1))
    rows = log.new()
    assert [r.topic for r in rows] == ["return.inspected", "return.closed"]
    assert shape(rows[0]) == ("return.inspected", 2, "order", first.id, WEB_HAM)
    assert rows[0].payload == {
        "rma_id": rma.id, "order_id": first.id, "line_no": 1, "sku": "BOLT", "lot": None,
        "disposition": "restock", "qty": 1, "location": "HAM",
    }  # fmt: skip
    assert who_hears(rows[0]) == {"ham-logistics"}  # a marketplace does not read returns
    assert_last_told_is_now(shop)
    assert shop.verify() == []
