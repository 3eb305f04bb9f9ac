"""The relay publishes to NATS JetStream: every event once, in stream order, even when repeated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from event_helpers import Happened, happen
from nats_server import Place, own_stream, stored
from stockflow.adapters.nats import JetStream, JetStreamError
from stockflow.adapters.tables import outbox
from stockflow.bootstrap import Stockflow
from stockflow.events.broker import NatsBroker
from stockflow.events.relay import Relay


@pytest.fixture
def place() -> Iterator[Place]:
    with own_stream() as p:
        yield p


def relay_to(sf: Stockflow, place: Place) -> Relay:
    jetstream = JetStream(
        place.url,
        stream=place.stream,
        subjects_prefix=place.prefix,
        duplicate_window=timedelta(minutes=5),
    )
    return Relay(sf.db, sf.clock, broker=NatsBroker(jetstream))


def drain(relay: Relay) -> int:
    async def run() -> int:
        try:
            return await relay.drain()
        finally:
            assert relay.broker is not None
            await relay.broker.close()

    assert relay.lease.acquire()
    try:
        return asyncio.run(run())
    finally:
        relay.lease.release()


def test_each_event_goes_to_its_subject_with_its_id_and_is_published_once_acknowledged(
    sf: Stockflow, place: Place
) -> None:
    happen(sf, Happened("order.captured", "SO-1"), Happened("stock.changed", "A@WH1",
                                                            aggregate="position"))  # fmt: skip
    happen(sf, Happened("order.shipped", "SO-1"))
    relay = relay_to(sf, place)
    assert drain(relay) == 3
    messages = asyncio.run(stored(place))
    assert [m.subject for m in messages] == [
        f"{place.prefix}.order.captured",
        f"{place.prefix}.stock.changed",
        f"{place.prefix}.order.shipped",
    ]
    with sf.db.read() as conn:
        ids = list(conn.execute(select(outbox.c.id).order_by(outbox.c.sequence)).scalars())
        unpublished = conn.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None)))
        assert list(unpublished) == []
    assert [m.headers["Nats-Msg-Id"] for m in messages if m.headers] == [str(i) for i in ids]
    shipped = json.loads(messages[2].data)
    assert shipped["type"] == "order.shipped"
    assert shipped["aggregate"] == {"type": "order", "id": "SO-1", "sequence": 2}
    assert messages[2].headers is not None
    assert messages[2].headers["Stockflow-Sequence"] == "3"


def test_a_relay_that_died_before_marking_publishes_again_and_nats_keeps_one(
    sf: Stockflow, place: Place
) -> None:
    happen(sf, *(Happened("order.captured", f"SO-{n}") for n in range(50)))
    assert drain(relay_to(sf, place)) == 50
    # As if the relay had died after NATS acknowledged and before it marked the rows.
    sf.db.run(lambda conn: conn.execute(update(outbox).values(published_at=None)))
    happen(sf, Happened("order.captured", "SO-50"))
    assert drain(relay_to(sf, place)) == 1
    messages = asyncio.run(stored(place))
    ids = [m.headers["Nats-Msg-Id"] for m in messages if m.headers]
    assert len(ids) == len(set(ids)) == 51
    with sf.db.read() as conn:
        assert conn.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None))).all() == []


def test_while_nats_is_away_events_wait_in_the_outbox_and_nothing_is_marked(
    sf: Stockflow,
) -> None:
    happen(sf, Happened("order.captured", "SO-1"))
    away = Place("nats://127.0.0.1:1", "NOWHERE", "nowhere")
    relay = relay_to(sf, away)
    with pytest.raises(JetStreamError, match=r"127\.0\.0\.1:1"):
        drain(relay)
    with sf.db.read() as conn:
        row = conn.execute(select(outbox.c.sequence, outbox.c.published_at)).one()
    assert row.sequence == 1  # in the stream (the live stream and webhooks have it)...
    assert row.published_at is None  # ...and still owed to the broker
