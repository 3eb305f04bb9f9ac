"""Real stockflow processes to kill, and what the outbox and a NATS stream hold afterwards.

``Process`` runs ``python -m stockflow <args>`` with the test's sources and
environment, its output in a log file; ``kill`` is SIGKILL, nothing runs
after it. ``nats_messages`` reads a whole JetStream stream through a pull
consumer of its own.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import func, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from stockflow.adapters.database import Database
from stockflow.adapters.tables import outbox, webhook_deliveries

SRC = Path(__file__).resolve().parent.parent / "src"


class Process:
    """``python -m stockflow ...`` in a child process whose output goes to ``log``."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.args = args
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stockflow", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # its children (a server's relay) are killed with it
            )
        return self

    def kill(self) -> None:
        """SIGKILL to it and its children: no shutdown, no lease let go, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it does not end within 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_healthy(base_url: str, process: Process, *, within: float = 60.0) -> None:
    """Until the server answers its health check (or fail with its output)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not process.alive:
            raise AssertionError(f"the server exited:\n{process.output()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the server did not come up:\n{process.output()[-3000:]}")


def wait_for(what: Callable[[], bool], *, within: float, step: float = 0.1) -> None:
    """Until ``what()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within:g} s: {what.__doc__ or what}")
        time.sleep(step)


@dataclass(frozen=True)
class Row:
    """An outbox row as the checks need it."""

    id: int
    sequence: int | None
    aggregate: str | None
    key: str | None
    aggregate_sequence: int | None
    published: bool


def outbox_rows(db: Database) -> list[Row]:
    with db.read() as conn:
        return [
            Row(
                r.id, r.sequence, r.aggregate, r.key, r.aggregate_sequence,
                r.published_at is not None,
            )
            for r in conn.execute(
                select(
                    outbox.c.id, outbox.c.sequence, outbox.c.aggregate, outbox.c.key,
                    outbox.c.aggregate_sequence, outbox.c.published_at,
                ).order_by(outbox.c.id)
            )
        ]  # fmt: skip


def outbox_count(db: Database, *, unpublished: bool = False, sequenced: bool = False) -> int:
    query = select(func.count()).select_from(outbox)
    if unpublished:
        query = query.where(outbox.c.published_at.is_(None))
    if sequenced:
        query = query.where(outbox.c.sequence.is_not(None))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def pending_deliveries(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(webhook_deliveries.c.status == "pending")
            ).scalar_one()
        )


@dataclass(frozen=True)
class NatsMessage:
    msg_id: str
    stream_sequence: int
    subject: str


async def _read_stream(url: str, stream: str, subjects: str) -> tuple[int, list[NatsMessage]]:
    client = await nats.connect(url, allow_reconnect=False)
    try:
        js = client.jetstream()
        held = (await js.stream_info(stream)).state.messages
        # No acks: a consumer waiting for acks stops handing out messages at max_ack_pending.
        config = ConsumerConfig(ack_policy=AckPolicy.NONE)
        sub = await js.pull_subscribe(subjects, stream=stream, config=config)
        got: list[NatsMessage] = []
        while len(got) < held:
            try:
                batch = await sub.fetch(1000, timeout=5)
            except nats.errors.TimeoutError:
                break
            for m in batch:
                headers = m.headers or {}
                got.append(
                    NatsMessage(
                        headers.get("Nats-Msg-Id", ""), m.metadata.sequence.stream, m.subject
                    )
                )
        await sub.unsubscribe()
        return held, got
    finally:
        await client.close()


def nats_messages(url: str, stream: str, subjects: str) -> tuple[int, list[NatsMessage]]:
    """How many messages the stream holds, and every one read back in stream order."""
    return asyncio.run(_read_stream(url, stream, subjects))


def assert_contiguous_sequences(rows: list[Row]) -> None:
    """The stream's numbers are 1..N, each once; each aggregate's are 1..k in commit order."""
    assert sorted(r.sequence or 0 for r in rows) == list(range(1, len(rows) + 1))
    by_aggregate: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r.aggregate is not None and r.key is not None:
            by_aggregate.setdefault((r.aggregate, r.key), []).append(r)
    for key, events in by_aggregate.items():
        events.sort(key=lambda r: r.sequence or 0)
        assert [r.aggregate_sequence for r in events] == list(range(1, len(events) + 1)), key


class _QuietServer(ThreadingHTTPServer):
    """Connections reset by a sender killed mid-request are expected here, not worth a trace."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass(frozen=True)
class Arrival:
    """A webhook request whose signature held, as the receiver answered it."""

    event_id: int
    body: bytes
    answered: int


class SignedReceiver:
    """A webhook endpoint that checks every signature and keeps what arrived whole.

    A request cut short (its sender killed mid-request) fails the check and is
    answered 400, as a real endpoint would. Of the requests that pass, the
    first try of about one event in ``fail_one_in`` is answered 500.
    """

    def __init__(self, *, fail_one_in: int = 30) -> None:
        self.secret: str | None = None
        self.arrivals: list[Arrival] = []
        self.refused = 0
        self._tries: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._fail_one_in = fail_one_in
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take({k.lower(): v for k, v in self.headers.items()}, body)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        assert self.secret is not None, "subscribe first, then tell the receiver the secret"
        try:
            Webhook(self.secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            with self._lock:
                self.refused += 1
            return 400
        event_id = int(headers["webhook-id"])
        with self._lock:
            self._tries[event_id] += 1
            first = self._tries[event_id] == 1
            status = 500 if first and self._rng.randrange(self._fail_one_in) == 0 else 200
            self.arrivals.append(Arrival(event_id, body, status))
        return status

    def start(self) -> SignedReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def seen(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)
