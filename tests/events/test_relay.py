"""The relay: the stream's order, each aggregate's count, one holder at a time, pruning."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import Connection, func, select, update

from stockflow.adapters.database import Database
from stockflow.adapters.outbox import record
from stockflow.adapters.tables import outbox, users, webhook_deliveries, webhook_subscriptions
from stockflow.bootstrap import Stockflow
from stockflow.events.lease import AdvisoryLease, LeaseLost, RowLease
from stockflow.events.relay import Relay, RelaySettings, RelayThread
from stockflow.events.stream import after, bounds
from stockflow.stock.rules.events import Event, Topic


@dataclass(frozen=True, slots=True)
class Noted(Event):
    """A stand-in event on an order, so the relay is tested apart from the catalogue."""

    topic: ClassVar[Topic] = Topic.ORDER_CAPTURED
    aggregate: ClassVar[str | None] = "order"
    order_id: str
    n: int

    @property
    def key(self) -> str | None:
        return self.order_id

    @property
    def scope(self) -> dict[str, list[str]] | None:
        return {"channels": ["web"]}


def note(sf: Stockflow, *events: Event) -> None:
    sf.db.run(lambda conn: record(conn, *events, now=datetime.now(UTC)))


@pytest.fixture
def relay(sf: Stockflow) -> Iterator[Relay]:
    r = Relay(sf.db, sf.clock)
    assert r.lease.acquire()
    yield r
    r.lease.release()


def rows(sf: Stockflow) -> list[dict[str, object]]:
    with sf.db.read() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def test_every_committed_event_gets_the_next_number_and_its_aggregates_count(
    sf: Stockflow, relay: Relay
) -> None:
    note(sf, Noted("SO-1", 1), Noted("SO-2", 1))
    note(sf, Noted("SO-1", 2))
    assert asyncio.run(relay.drain()) == 3
    note(sf, Noted("SO-2", 2), Noted("SO-1", 3))
    assert asyncio.run(relay.drain()) == 2

    found = rows(sf)
    assert [r["sequence"] for r in found] == [1, 2, 3, 4, 5]
    by_order = {(r["key"], r["payload"]["n"]): r["aggregate_sequence"] for r in found}  # type: ignore[index]
    assert by_order == {
        ("SO-1", 1): 1,
        ("SO-2", 1): 1,
        ("SO-1", 2): 2,
        ("SO-2", 2): 2,
        ("SO-1", 3): 3,
    }
    assert all(r["published_at"] is not None for r in found)  # no broker: published as sequenced

    with sf.db.read() as conn:
        stream = after(conn, 2)
    assert [e.sequence for e in stream] == [3, 4, 5]
    doc = stream[0].document()
    assert doc["aggregate"] == {"type": "order", "id": "SO-1", "sequence": 2}
    assert doc["type"] == "order.captured"
    assert doc["data"] == {"order_id": "SO-1", "n": 2}
    assert "scope" not in doc  # who may see it is never sent


def test_an_event_not_published_is_never_written_out(sf: Stockflow, relay: Relay) -> None:
    @dataclass(frozen=True, slots=True)
    class Inside(Noted):
        published: ClassVar[bool] = False

    note(sf, Inside("SO-1", 1), Noted("SO-1", 2))
    assert asyncio.run(relay.drain()) == 1
    assert [r["payload"]["n"] for r in rows(sf)] == [2]  # type: ignore[index]


def test_pruning_keeps_what_a_delivery_still_needs_and_the_numbers_go_on(
    sf: Stockflow,
) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    relay = Relay(sf.db, lambda: clock[0], settings=RelaySettings(retention=timedelta(days=1)))
    assert relay.lease.acquire()
    try:
        note(sf, Noted("SO-1", 1), Noted("SO-2", 1))
        asyncio.run(relay.drain())
        waiting = _pending_delivery(sf, event_id=int(rows(sf)[1]["id"]), now=clock[0])  # type: ignore[arg-type]
        clock[0] += timedelta(days=2)
        assert relay.lease.acquire()  # (on SQLite the lease expired meanwhile)
        assert relay.prune_once() == 1
        assert [r["key"] for r in rows(sf)] == ["SO-2"]
        sf.db.run(
            lambda conn: conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == waiting)
                .values(status="delivered", finished_at=clock[0])
            )
        )
        clock[0] += timedelta(days=2)
        assert relay.lease.acquire()
        assert relay.prune_once() == 1
        assert rows(sf) == []
        with sf.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar() == 0
        note(sf, Noted("SO-1", 2))
        asyncio.run(relay.drain())
        (again,) = rows(sf)
        assert (again["sequence"], again["aggregate_sequence"]) == (3, 2)
    finally:
        relay.lease.release()
    with sf.db.read() as conn:
        assert bounds(conn) == (3, 3)


def _pending_delivery(sf: Stockflow, *, event_id: int, now: datetime) -> int:
    def work(conn: Connection) -> int:
        user = conn.execute(
            users.insert().values(name="hook", role="admin", created_at=now).returning(users.c.id)
        ).scalar_one()
        sub = conn.execute(
            webhook_subscriptions.insert()
            .values(url="http://127.0.0.1:9/", event_types=["*"], owner_id=user,
                    created_at=now, updated_at=now)
            .returning(webhook_subscriptions.c.id)
        ).scalar_one()  # fmt: skip
        return int(
            conn.execute(
                webhook_deliveries.insert()
                .values(
                    subscription_id=sub,
                    event_id=event_id,
                    sequence=2,
                    next_attempt_at=now,
                    created_at=now,
                )
                .returning(webhook_deliveries.c.id)
            ).scalar_one()
        )

    return sf.db.run(work)


def test_sqlite_lease_one_holder_and_takeover_after_expiry(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/lease.db")  # type: ignore[str-bytes-safe]
    from stockflow.adapters.migrate import migrate

    migrate(db)
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    first = RowLease(db, lambda: clock[0], ttl=timedelta(seconds=15))
    second = RowLease(db, lambda: clock[0], ttl=timedelta(seconds=15))
    try:
        assert first.acquire()
        assert not second.acquire()
        with first.transaction():
            pass  # renews
        clock[0] += timedelta(seconds=16)  # the first went silent
        assert second.acquire()
        with pytest.raises(LeaseLost), first.transaction():
            pytest.fail("a relay whose lease was taken over must not write")
        second.release()
        assert first.acquire()  # released: free at once
    finally:
        db.dispose()


@pytest.mark.postgres_only
def test_postgres_lock_one_holder_and_takeover_when_its_connection_dies(pg_only_url: str) -> None:
    db = Database(pg_only_url)
    try:
        first, second = AdvisoryLease(db), AdvisoryLease(db)
        assert first.acquire()
        assert not second.acquire()
        with first.transaction() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with db.engine.connect() as admin:  # the holder's connection dies
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            admin.commit()
        assert second.acquire()
        with pytest.raises(LeaseLost), first.transaction() as conn:
            conn.exec_driver_sql("SELECT 1")
        second.release()
    finally:
        db.dispose()


@pytest.mark.postgres_only
def test_two_relays_started_at_once_never_both_relay(pg_only_url: str) -> None:
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    fast = RelaySettings(poll=0.01, standby=0.05)
    relays = [Relay(sf.db, sf.clock, settings=fast) for _ in range(2)]
    threads = [RelayThread(r) for r in relays]
    try:
        for t in threads:
            t.start()
        for n in range(200):
            note(sf, Noted(f"SO-{n % 7}", n))
        _wait(lambda: sum(r.sequenced for r in relays) == 200)
        assert sorted(r.sequenced for r in relays) == [0, 200]
        leader = next(i for i, r in enumerate(relays) if r.sequenced)
        threads[leader].stop()  # lets go of the lock: the other takes over
        note(sf, Noted("SO-1", 999))
        _wait(lambda: relays[1 - leader].sequenced == 1)
        found = rows(sf)
        assert [r["sequence"] for r in found] == list(range(1, 202))
        per_order: dict[object, list[int]] = {}
        for r in found:
            per_order.setdefault(r["key"], []).append(int(r["aggregate_sequence"]))  # type: ignore[call-overload]
        assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in per_order.values())
    finally:
        for t in threads:
            t.stop()
        sf.close()


@pytest.mark.postgres_only
def test_events_committed_while_the_relay_runs_get_numbers_without_gaps(pg_only_url: str) -> None:
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    relay = Relay(sf.db, sf.clock, settings=RelaySettings(poll=0.001, batch=50))
    running = RelayThread(relay).start()
    try:

        def writer(w: int) -> None:
            for n in range(100):
                note(sf, Noted(f"SO-{n % 5}", w * 1000 + n), Noted(f"W-{w}", n))

        workers = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        _wait(lambda: relay.sequenced == 1200)
        found = rows(sf)
        assert sorted(int(r["sequence"]) for r in found) == list(range(1, 1201))  # type: ignore[call-overload]
        mine: dict[object, list[tuple[int, int]]] = {}
        for r in found:
            mine.setdefault(r["key"], []).append((int(r["aggregate_sequence"]), int(r["sequence"])))  # type: ignore[call-overload]
        for seqs in mine.values():
            seqs.sort()
            assert [a for a, _ in seqs] == list(range(1, len(seqs) + 1))
            assert [s for _, s in seqs] == sorted(s for _, s in seqs)
        # A writer's own aggregate: its events were committed one after another, in n order.
        for w in range(6):
            ns = [
                r["payload"]["n"]
                for r in sorted(found, key=lambda r: r["sequence"])
                if r["key"] == f"W-{w}"
            ]  # type: ignore[index,arg-type,return-value]
            assert ns == list(range(100))
    finally:
        running.stop()
        sf.close()


def _wait(condition: object, timeout: float = 20.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting")
