"""Events out survive crashes: servers and relays killed mid-load lose nothing and double nothing.

A real ``stockflow serve`` takes orders from several client threads while
the relay beside it publishes to NATS and delivers to a webhook receiver in
this process (which now and then answers 500, so retries happen too). The
server is SIGKILLed several times at random moments and started again on the
same port; clients whose request died with it send it again with the same
Idempotency-Key until the new server answers. Once the load stops and the
last server has drained, every committed event (and nothing else) has reached
the receiver and the stream, in order, and the stream holds each one once.

SIGKILL goes to the server and the relay process beside it at once.

The event catalogue grows; the checks compare outbox ids, never topics.
"""

from __future__ import annotations

import itertools
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crash_kit import (
    Arrival,
    NatsMessage,
    Process,
    Row,
    SignedReceiver,
    assert_contiguous_sequences,
    nats_messages,
    outbox_count,
    outbox_rows,
    pending_deliveries,
    wait_for,
    wait_healthy,
)
from event_helpers import Happened, happen
from nats_server import Place, free_port, nats_url, own_stream
from stockflow.adapters.database import Database
from stockflow.adapters.tables import orders, webhook_deliveries
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.access import Role
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.commands import Place as Bin
from stockflow.stock.rules.commands import PostMove

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

EVENTS = 10_000  # the load stops once the outbox holds this many
KILLS = 4
CLIENTS = 6
SKUS = [f"CR{n:03d}" for n in range(40)]
SCHEDULE = "0,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s"


@pytest.fixture
def place() -> Iterator[Place]:
    with own_stream(nats_url()) as p:
        yield p


def relay_env(place: Place) -> dict[str, str]:
    """What every process of these tests relays with: NATS of the test's own, quick polls."""
    return {
        "STOCKFLOW_NATS_URL": place.url,
        "STOCKFLOW_NATS_STREAM": place.stream,
        "STOCKFLOW_NATS_SUBJECT_PREFIX": place.prefix,
        "STOCKFLOW_RELAY_POLL_SECONDS": "0.02",
        "STOCKFLOW_WEBHOOK_SCHEDULE": SCHEDULE,
        "STOCKFLOW_WEBHOOK_TIMEOUT": "5",
    }


def open_shop(url: str) -> tuple[Stockflow, str]:
    """Stock plenty of every SKU, a channel, an admin with a token, and that admin's feed."""
    sf = Stockflow.open(url, migrate_schema=False)
    sf.add_locations([NewLocation("WH", "Warehouse")])
    sf.add_skus([NewSku(code, f"Item {code}") for code in SKUS])
    moves = [PostMove(code, 1_000_000, "receipt", target=Bin("WH")) for code in SKUS]
    sf.db.run(lambda conn: post_moves(conn, moves, now=sf.clock()))
    sf.orders.add_channel(NewChannel("WEB", "Web shop"))
    sf.access.add_user("loader", Role.ADMIN)
    token = sf.access.issue_token("loader", "crash load", days=1, rate_limit=1_000_000).secret
    return sf, token


class Load:
    """Client threads capturing (and now and then cancelling) orders until told to stop."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.numbers = itertools.count()
        self.captured: list[str] = []  # order ids, each acknowledged once
        self.cancelled = 0
        self.resent = 0  # requests sent again after the server died under them
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(120)

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=10) as http:
            while not self.stop.is_set():
                n = next(self.numbers)
                lines = [{"sku": s, "qty": 1} for s in rng.sample(SKUS, 2)]
                body = {
                    "channel": "WEB",
                    "external_id": f"C-{n}",
                    "ship_to": "1 Road",
                    "lines": lines,
                }
                answer = self._send(http, "/api/v1/orders", body, f"capture-{n}")
                if answer is None or answer.status_code not in (200, 201):
                    self._note(
                        f"capture {n}: {answer and answer.status_code} {answer and answer.text}"
                    )
                    continue
                order_id = answer.json()["id"]
                with self._lock:
                    self.captured.append(order_id)
                if n % 3 == 0:
                    self._cancel(http, order_id)

    def _cancel(self, http: httpx.Client, order_id: str) -> None:
        path = f"/api/v1/orders/{order_id}/cancel"
        answer = self._send(http, path, {"reason": "changed my mind"}, None)
        # 409 only when an earlier try was committed before its server died.
        if answer is not None and answer.status_code in (200, 409):
            with self._lock:
                self.cancelled += 1
            return
        self._note(f"cancel {order_id}: {answer and answer.status_code} {answer and answer.text}")

    def _send(
        self, http: httpx.Client, path: str, body: dict[str, object], key: str | None
    ) -> httpx.Response | None:
        """POST until some server answers (the same Idempotency-Key each time)."""
        headers = {"Idempotency-Key": key} if key else {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                return http.post(path, json=body, headers=headers)
            except httpx.TransportError:
                with self._lock:
                    self.resent += 1
                time.sleep(0.05)
        return None

    def _note(self, what: str) -> None:
        with self._lock:
            self.unexpected.append(what)


class SideWriter:
    """Another writer to the same database: events of aggregates that have several each.

    Each transaction adds one event to each of ten aggregates; every aggregate
    gets three, in three transactions, so the order of each aggregate's events
    is tested whatever the catalogue says of aggregates.
    """

    def __init__(self, sf: Stockflow) -> None:
        self.sf = sf
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._write)

    def start(self) -> SideWriter:
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(60)

    def _write(self) -> None:
        tag = uuid.uuid4().hex[:6]
        for i in itertools.count():
            if self.stop.is_set() and i % 3 == 0:
                return
            keys = [f"side-{tag}-{i // 3 * 10 + j}" for j in range(10)]
            happen(self.sf, *(Happened("order.captured", key, data={"n": i}) for key in keys))
            time.sleep(0.05)


def test_servers_killed_under_load_lose_and_double_no_event(
    pg_only_url: str, place: Place, tmp_path: Path
) -> None:
    sf, token = open_shop(pg_only_url)
    receiver = SignedReceiver().start()
    receiver.secret = sf.webhooks.subscribe("loader", receiver.url, ["*"]).secret
    db = Database(pg_only_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    args = ["serve", "--db", pg_only_url, "--port", str(port)]
    env = relay_env(place)
    rng = random.Random()
    server = Process(args, env, tmp_path / "serve.log").start()
    load: Load | None = None
    side = SideWriter(sf)
    kills = 0
    downtime: list[float] = []
    try:
        wait_healthy(base_url, server)
        load = Load(base_url, token).start()
        side.start()
        # Kill at random moments, spread over the load, then let the last server run.
        marks = sorted(rng.randint(k * EVENTS // (KILLS + 1), (k + 1) * EVENTS // (KILLS + 1))
                       for k in range(KILLS))  # fmt: skip
        started = time.monotonic()
        while (made := outbox_count(db)) < EVENTS:
            assert time.monotonic() - started < 240, f"only {made} events after 240 s"
            if marks and made >= marks[0]:
                marks.pop(0)
                time.sleep(rng.uniform(0, 0.3))
                server.kill()
                kills += 1
                down = time.monotonic()
                server = Process(args, env, tmp_path / "serve.log").start()
                wait_healthy(base_url, server)
                downtime.append(time.monotonic() - down)
            time.sleep(0.05)
        load_seconds = time.monotonic() - started
        load.finish()
        side.finish()
        left = (outbox_count(db, unpublished=True), pending_deliveries(db))

        def drained() -> bool:
            """nothing left unpublished or pending"""
            return outbox_count(db, unpublished=True) == 0 and pending_deliveries(db) == 0

        drain_started = time.monotonic()
        wait_for(drained, within=240, step=0.2)
        drain_seconds = time.monotonic() - drain_started
        rows = outbox_rows(db)
        arrived = receiver.seen()
        delivered = [a for a in arrived if a.answered == 200]
    finally:
        if load is not None:
            load.finish()
        side.finish()
        server.stop()
        receiver.stop()
    held, messages = nats_messages(place.url, place.stream, f"{place.prefix}.>")
    print(
        f"\n{len(rows)} events, {kills} kills,"
        f" down {', '.join(f'{d:.1f}' for d in downtime)} s;"
        f" load {load_seconds:.1f} s, then {left[0]} unpublished, {left[1]} pending,"
        f" drained in {drain_seconds:.1f} s;"
        f" {len(load.captured)} orders, {load.cancelled} cancelled, {load.resent} requests resent;"
        f" webhooks {len(arrived)} requests, {len(delivered)} delivered,"
        f" {len(delivered) - len({r.event_id for r in delivered})} repeats,"
        f" {receiver.refused} cut short; NATS {held} held"
    )
    assert kills >= 3
    assert load.unexpected == []
    assert len(rows) >= EVENTS
    check_orders(db, load)
    assert_contiguous_sequences(rows)
    check_webhooks(db, rows, arrived, delivered)
    check_nats(rows, held, messages)
    sf.close()
    db.dispose()


def check_orders(db: Database, load: Load) -> None:
    """Every acknowledged capture is one order, and no order was made twice."""
    from sqlalchemy import select

    with db.read() as conn:
        made = list(conn.execute(select(orders.c.id, orders.c.external_id)))
    assert len(load.captured) == len(set(load.captured))
    assert sorted(load.captured) == sorted(r.id for r in made)
    assert len({r.external_id for r in made}) == len(made)


def check_webhooks(
    db: Database, rows: list[Row], arrived: list[Arrival], delivered: list[Arrival]
) -> None:
    """Each committed event delivered, nothing else sent, repeats identical, aggregates in order."""
    from sqlalchemy import func, select

    ids = {r.id for r in rows}
    assert {r.event_id for r in arrived} <= ids  # nothing of a change that was not committed
    assert {r.event_id for r in delivered} == ids  # every committed event delivered
    first: dict[int, bytes] = {}
    for r in arrived:
        if r.event_id in first:
            assert r.body == first[r.event_id], r.event_id  # a repeat is the same event
        else:
            first[r.event_id] = r.body
    # Each aggregate's events reached the receiver for the first time in the aggregate's order.
    by_id = {r.id: r for r in rows}
    seen: set[int] = set()
    last: dict[tuple[str, str], int] = {}
    for r in arrived:
        if r.event_id in seen:
            continue
        seen.add(r.event_id)
        row = by_id[r.event_id]
        if row.aggregate is None or row.key is None:
            continue
        agg = (row.aggregate, row.key)
        assert row.aggregate_sequence == last.get(agg, 0) + 1, (agg, row)
        last[agg] = row.aggregate_sequence
    with db.read() as conn:
        states = dict(
            conn.execute(
                select(webhook_deliveries.c.status, func.count()).group_by(
                    webhook_deliveries.c.status
                )
            ).all()
        )
    assert states == {"delivered": len(rows)}


def check_nats(rows: list[Row], held: int, messages: list[NatsMessage]) -> None:
    """The stream holds every committed event once, in the stream's order."""
    in_order = [str(r.id) for r in sorted(rows, key=lambda r: r.sequence or 0)]
    got = [m.msg_id for m in messages]
    assert held == len(rows)
    assert Counter(got) == Counter(in_order)
    assert got == in_order


BACKLOG = 20_000


def backlog(sf: Stockflow, count: int, *, tag: str) -> None:
    """``count`` committed events over 400 orders, 2,000 to a transaction."""
    for start in range(0, count, 2_000):
        happen(
            sf,
            *(
                Happened("order.captured", f"{tag}-{n % 400}", data={"n": n})
                for n in range(start, min(count, start + 2_000))
            ),
        )


def check_relayed_once(db: Database, place: Place, count: int) -> None:
    """Every event published, numbered 1..N, and in the NATS stream once, in the stream's order."""
    rows = outbox_rows(db)
    assert len(rows) == count
    assert all(r.published for r in rows)
    assert_contiguous_sequences(rows)
    held, messages = nats_messages(place.url, place.stream, f"{place.prefix}.>")
    check_nats(rows, held, messages)


def test_a_relay_killed_mid_batch_resumes_where_it_stopped(
    pg_only_url: str, place: Place, tmp_path: Path
) -> None:
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    db = Database(pg_only_url)
    backlog(sf, BACKLOG, tag="R")
    args = ["relay", "--db", pg_only_url]
    first = Process(args, relay_env(place), tmp_path / "relay-1.log").start()
    second = Process(args, relay_env(place), tmp_path / "relay-2.log")
    try:
        mark = random.randint(2_000, BACKLOG // 2)

        def under_way() -> bool:
            """the first relay has sequenced some of the backlog"""
            return outbox_count(db, sequenced=True) >= mark

        wait_for(under_way, within=60, step=0.02)
        first.kill()
        sequenced = outbox_count(db, sequenced=True)
        published = BACKLOG - outbox_count(db, unpublished=True)
        assert 0 < sequenced < BACKLOG, "killed after it had finished"
        second.start()

        def done() -> bool:
            """the second relay has published everything"""
            return outbox_count(db, unpublished=True) == 0

        wait_for(done, within=60, step=0.1)
    finally:
        first.kill()
        second.stop()
    print(f"\nkilled after {sequenced} sequenced, {published} published of {BACKLOG}")
    check_relayed_once(db, place, BACKLOG)
    sf.close()
    db.dispose()


def test_of_two_relays_started_at_once_only_one_relays_until_it_dies(
    pg_only_url: str, place: Place, tmp_path: Path
) -> None:
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    db = Database(pg_only_url)
    backlog(sf, BACKLOG // 4, tag="T")
    args = ["relay", "--db", pg_only_url]
    relays = [Process(args, relay_env(place), tmp_path / f"relay-{n}.log") for n in (1, 2)]
    holding = "holding the lease"
    try:
        for r in relays:
            r.start()

        def done() -> bool:
            """everything is published"""
            return outbox_count(db, unpublished=True) == 0

        wait_for(done, within=60, step=0.1)
        time.sleep(1.5)  # longer than the stand-by's pause between tries for the lease
        leaders = [r for r in relays if holding in r.output()]
        assert len(leaders) == 1, [r.output() for r in relays]
        [leader] = leaders
        [standby] = [r for r in relays if r is not leader]
        assert standby.alive
        leader.kill()
        backlog(sf, BACKLOG // 4, tag="U")  # only the stand-by is left to relay these
        wait_for(done, within=60, step=0.1)
        assert holding in standby.output()
    finally:
        for r in relays:
            r.stop()
    check_relayed_once(db, place, BACKLOG // 2)
    sf.close()
    db.dispose()


def test_a_server_killed_alone_takes_its_relay_with_it(
    pg_only_url: str, place: Place, tmp_path: Path
) -> None:
    """SIGKILL to the server's process only: the relay beside it ends and lets the lease go."""
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    db = Database(pg_only_url)
    port = free_port()
    server = Process(["serve", "--db", pg_only_url, "--port", str(port)], relay_env(place),
                     tmp_path / "serve.log").start()  # fmt: skip
    successor = Process(["relay", "--db", pg_only_url], relay_env(place), tmp_path / "relay.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        assert server.process is not None
        pid = server.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 1, children  # the relay
        relay_pid = int(children[0])
        assert "relay" in Path(f"/proc/{relay_pid}/cmdline").read_text()
        backlog(sf, BACKLOG // 10, tag="K")

        def published() -> bool:
            """the server's relay has published the backlog"""
            return outbox_count(db, unpublished=True) == 0

        wait_for(published, within=60, step=0.1)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()

        def relay_gone() -> bool:
            """the orphaned relay has ended"""
            try:
                state = Path(f"/proc/{relay_pid}/stat").read_text().split()[2]
            except FileNotFoundError:
                return True
            return state == "Z"

        wait_for(relay_gone, within=10, step=0.05)
        successor.start()
        backlog(sf, BACKLOG // 10, tag="L")  # only the successor is left to relay these
        wait_for(published, within=60, step=0.1)
        assert "holding the lease" in successor.output()
    finally:
        server.stop()
        successor.stop()
    check_relayed_once(db, place, 2 * (BACKLOG // 10))
    sf.close()
    db.dispose()
