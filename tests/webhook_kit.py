"""A real HTTP receiver for webhook tests, and events written to the outbox as the relay would.

``Receiver`` listens on 127.0.0.1 (a free port) on threads of its own, keeps
every request it is sent, and answers as ``script(event_id, nth)`` says:
``nth`` counts the requests carrying that ``webhook-id``, from 1. An answer
is a status, optionally with headers, or a pause before answering (to make
the sender give up waiting).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, insert, select

from stockflow.adapters.tables import outbox, webhook_deliveries
from stockflow.bootstrap import Stockflow
from stockflow.events.dispatch import Dispatcher
from stockflow.events.rules import Envelope
from stockflow.events.webhooks import fan_out


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    pause: float = 0.0  # seconds to wait before answering


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    at: float  # monotonic
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event_id(self) -> int:
        return int(self.headers["webhook-id"])


Script = Callable[[int, int], Answer]


def always_ok(event_id: int, nth: int) -> Answer:
    return Answer()


class Receiver:
    """A local webhook endpoint on threads of its own."""

    def __init__(self, script: Script = always_ok) -> None:
        self.script = script
        self.received: list[Received] = []
        self._seen: dict[int, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = receiver.answer(headers.get("webhook-id", "0"))
                with receiver._lock:
                    receiver.received.append(
                        Received(time.monotonic(), self.path, headers, body, answer.status)
                    )
                if answer.pause:
                    time.sleep(answer.pause)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    body = b"" if answer.status in (204, 304) else b"ok"  # those have none
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the sender stopped waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, webhook_id: str) -> Answer:
        with self._lock:
            event_id = int(webhook_id)
            nth = self._seen[event_id] = self._seen.get(event_id, 0) + 1
        return self.script(event_id, nth)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they arrived."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]


@contextmanager
def receiver(script: Script = always_ok) -> Iterator[Receiver]:
    r = Receiver(script).start()
    try:
        yield r
    finally:
        r.stop()


@dataclass(frozen=True)
class Spec:
    """An event to put in the stream."""

    topic: str
    aggregate: str | None = None
    key: str | None = None
    scope: dict[str, list[str]] | None = None
    payload: dict[str, object] = field(default_factory=dict)


def stream(sf: Stockflow, specs: Sequence[Spec], *, at: datetime | None = None) -> list[Envelope]:
    """Write events to the outbox with their places in the stream and fan them out, as the relay."""
    now = at or datetime.now(UTC)
    found: list[Envelope] = []

    def work(conn: Any) -> int:
        last = conn.execute(select(func.max(outbox.c.sequence))).scalar() or 0
        counts: dict[tuple[str | None, str | None], int] = {}
        for n, spec in enumerate(specs, 1):
            agg = (spec.aggregate, spec.key)
            if spec.aggregate is not None:
                prior = conn.execute(
                    select(func.count()).where(
                        outbox.c.aggregate == spec.aggregate, outbox.c.key == spec.key
                    )
                ).scalar_one()
                counts[agg] = counts.get(agg, prior) + 1
            row = {
                "topic": spec.topic, "version": 1, "key": spec.key, "aggregate": spec.aggregate,
                "scope": spec.scope, "payload": spec.payload or {"n": last + n},
                "created_at": now, "sequence": last + n,
                "aggregate_sequence": counts.get(agg) if spec.aggregate else None,
                "published_at": now,
            }  # fmt: skip
            event_id = conn.execute(insert(outbox).returning(outbox.c.id), row).scalar_one()
            found.append(
                Envelope(
                    id=event_id,
                    topic=spec.topic,
                    version=1,
                    sequence=last + n,
                    aggregate=spec.aggregate,
                    key=spec.key,
                    aggregate_sequence=counts.get(agg) if spec.aggregate else None,
                    created_at=now,
                    payload=row["payload"],  # type: ignore[arg-type]
                    scope=spec.scope,
                )
            )
        return fan_out(conn, found, now)

    sf.db.run(work)
    return found


def pending(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(webhook_deliveries.c.status == "pending")
            ).scalar_one()
        )


def dispatcher(sf: Stockflow, **options: Any) -> Dispatcher:
    """A dispatcher with a short schedule (0, 50 ms, 100 ms, 100 ms, 100 ms) and timeout."""
    options.setdefault("schedule", [timedelta(milliseconds=ms) for ms in (0, 50, 100, 100, 100)])
    options.setdefault("timeout", 0.5)
    options.setdefault("concurrency", 16)
    return Dispatcher(sf.db, sf.clock, **options)


def drain(d: Dispatcher, sf: Stockflow, *, within: float = 30.0, until_idle: bool = True) -> None:
    """Run the dispatcher until nothing is pending (or in flight), for at most ``within`` s."""

    async def loop() -> None:
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                done = await d.run_once()
                if done == 0 and d.in_flight == 0:
                    if pending(sf) == 0 or not until_idle:
                        return
                    await asyncio.sleep(0.01)
        finally:
            await d.close()

    asyncio.run(loop())
