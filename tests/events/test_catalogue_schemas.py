"""The catalogue cannot lie: what is written is what the schemas and docs/events.md say.

A day that causes every public topic at least once runs on both databases;
every outbox row must then be a public topic at its current version, with
an aggregate, a key and a scope, and its payload must match the topic's
schema exactly (no field missing, none extra, every type right). Every topic
has a schema, an OpenAPI webhook and a section in docs/events.md at its
version; the events only reactions follow are written nowhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from order_shop import Clock, add_channel, open_shop, order
from outbox_log import told
from receiving_shop import buy, stock_the_floor
from stockflow.adapters.parcels import Parcel
from stockflow.api.app import create_app
from stockflow.api.event_catalogue import BY_TOPIC, CATALOGUE
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
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
from stockflow.stock.rules import events
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.transfers.rules import ReceiveLine, TransferLineIn

DOCS = Path(__file__).parents[2] / "docs" / "events.md"


def event_classes() -> list[type[events.Event]]:
    """Every class that records one topic (the shared bases name none of their own)."""
    bases = (events.OrderChanged, events.ReturnChanged)
    return [
        value
        for value in vars(events).values()
        if isinstance(value, type)
        and issubclass(value, events.Event)
        and value not in bases
        and "topic" in vars(value)
    ]


PUBLIC = {str(c.topic): c for c in event_classes() if c.published}
INTERNAL = {str(c.topic) for c in event_classes() if not c.published}


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    sf = open_shop(db_url, Clock())
    stock_the_floor(sf, "BOLT", "NUT")
    add_channel(sf, "web", ship_from=("HAM",))
    yield sf
    sf.close()


def ship_all(sf: Stockflow, order_id: str) -> str:
    """Pick, pack and ship an allocated order from HAM; the shipment id."""
    wave = sf.floor.build_wave(WaveRequest("HAM", order_ids=(order_id,)))
    assert wave is not None
    parcel = None
    for task in wave.tasks:
        sf.floor.confirm_pick(task.id, task.qty, actor="picker")
        parcel = sf.floor.pack_scan(order_id, task.sku, qty=task.qty)
    assert parcel is not None
    sf.floor.add_package(parcel.id, Parcel(800, 300, 200, 100))
    sf.floor.ship(parcel.id, Dispatch("flat"), actor="packer")
    return parcel.id


def a_day_of_every_topic(sf: Stockflow) -> None:
    """Orders, holds, fills, a short pick, shipping, counts, transfers, returns."""
    po = buy(sf, ("BOLT", 8), ("NUT", 5))
    waits = sf.orders.capture(order("web", ("BOLT", 2), ("NUT", 1)))
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 8),), po_id=po.id))
    sf.post_move(PostMove("NUT", 6, "receipt", target=Place("HAM", "A-01")))
    held = sf.orders.capture(order("web", ("BOLT", 1), ship_to="Nowhere"))
    [hold] = [e for e in sf.orders.exceptions() if e.order_id == held.id]
    sf.orders.set_exception_state(hold.id, "acknowledged", actor="cs-ann")
    sf.orders.release_hold(held.id, actor="cs-ann")
    sf.orders.reallocate(held.id, actor="cs-ann")
    sf.orders.cancel(held.id, reason="duplicate", line_no=1)
    shipment = ship_all(sf, waits.id)
    sf.floor.track(shipment, "delivered")
    # A short pick: the bin holds fewer bolts than the books say.
    short = sf.orders.capture(order("web", ("BOLT", 2)))
    wave = sf.floor.build_wave(WaveRequest("HAM", order_ids=(short.id,)))
    assert wave is not None
    sf.floor.confirm_pick(wave.tasks[0].id, 1, actor="picker", left_in_bin=0)
    count = sf.counts.create(location="HAM", scope=CountScope("bins", bins=("A-01",)))
    for line in sf.counts.sheet(count.id).lines:
        sf.counts.submit(count.id, line.line_no, 1, actor="ola")
        sf.counts.approve(count.id, line.line_no, actor="sup-kim")
    sf.post_move(PostMove("NUT", 3, "receipt", target=Place("CGN", None)))
    sent = sf.transfers.ship(
        from_location="CGN", to_location="HAM", lines=[TransferLineIn("NUT", 3)],
        expected_on=sf.today() + timedelta(days=1),
    )  # fmt: skip
    sf.transfers.receive(sent.id, [ReceiveLine(1, 2, 1)])
    called_off = sf.returns.authorise(AuthoriseReturn(waits.id, (ReturnLineIn(1, 1),), "oops"))
    sf.returns.cancel(called_off.id)
    rma = sf.returns.authorise(AuthoriseReturn(waits.id, (ReturnLineIn(1, 2),), "too many"))
    sf.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 2),)))
    sf.returns.inspect(InspectReturn(rma.id, 1, "restock", 1))
    sf.returns.inspect(InspectReturn(rma.id, 1, "scrap", 1, note="crushed"))


def test_every_row_a_day_writes_is_a_public_topic_that_matches_its_schema(
    shop: Stockflow,
) -> None:
    a_day_of_every_topic(shop)
    rows = told(shop)
    assert {r.topic for r in rows} == set(PUBLIC), "the day causes every public topic"
    for row in rows:
        entry = BY_TOPIC[row.topic]
        what = f"{row.id} {row.topic}"
        assert row.version == entry.version, what
        assert entry.event.aggregate is not None, what
        assert row.aggregate == entry.event.aggregate, what
        assert row.key, what
        assert row.scope, what  # names at least one location, channel or supplier
        assert set(row.scope) <= {"locations", "channels", "suppliers"}, what
        assert all(codes == sorted(set(codes)) and codes for codes in row.scope.values()), what
        # Strict: a number sent as text, a date not ISO, a field too many or too few fails.
        parsed = entry.data.model_validate_json(json.dumps(row.payload), strict=True)
        assert parsed.model_dump(mode="json", by_alias=True) == row.payload, what


def test_every_public_topic_has_one_schema_and_the_internal_ones_none() -> None:
    assert {e.topic for e in CATALOGUE} == set(PUBLIC)
    assert len(CATALOGUE) == len(PUBLIC)
    assert {"stock.freed", "supply.changed", "stock.taken_back", "allocations.carried"} == INTERNAL
    assert set(PUBLIC) | INTERNAL == {str(t) for t in events.Topic}
    for entry in CATALOGUE:
        assert entry.event is PUBLIC[entry.topic]
        assert entry.event.aggregate in {
            "order", "position", "exception", "receipt", "count", "transfer",
        }, entry.topic  # fmt: skip


def test_docs_tell_every_public_topic_at_its_version_and_no_internal_one_as_public() -> None:
    text = DOCS.read_text()
    documented = dict(re.findall(r"^### `([a-z_.]+)` \(version (\d+)\)$", text, re.MULTILINE))
    assert {t: int(v) for t, v in documented.items()} == {e.topic: e.version for e in CATALOGUE}
    for topic in INTERNAL:
        assert f"### `{topic}`" not in text
        assert f"`{topic}`" in text.split("## Not in the catalogue")[1]


def test_the_openapi_document_has_the_envelope_every_payload_and_every_topic(
    shop: Stockflow,
) -> None:
    schema = create_app(shop).openapi()
    components = schema["components"]["schemas"]
    envelope = components["EventEnvelope"]
    assert set(envelope["required"]) == {
        "id", "type", "version", "sequence", "timestamp", "aggregate", "data",
    }  # fmt: skip
    for entry in CATALOGUE:
        data = components[entry.data.__name__]
        assert data["additionalProperties"] is False, entry.topic
        body = schema["webhooks"][entry.topic]["post"]["requestBody"]["content"]
        fixed = body["application/json"]["schema"]["allOf"][1]["properties"]
        assert fixed == {
            "type": {"const": entry.topic},
            "version": {"const": entry.version},
            "data": {"$ref": f"#/components/schemas/{entry.data.__name__}"},
        }
    assert set(schema["webhooks"]) == set(PUBLIC)
    # The framework's error schemas are still replaced by problem+json.
    assert "Problem" in components
    assert "HTTPValidationError" not in components
