"""Sending webhook deliveries: signed POSTs, retries on a schedule, dead letters.

The relay awaits ``Dispatcher.run_once`` in a loop on its own event loop.
Each call records the tries that have finished since the last one (their
rows and the deliveries' new state in one transaction), then starts what is
due, up to ``concurrency`` requests in flight, over keep-alive connections.
A delivery is due when its time has come and its subscription is active.
Only the first pending delivery of an aggregate to a subscription has a
time (``webhooks.wake`` gives the next one its time when it is finished):
one order's events reach a receiver one at a time and in order, while
different orders' go side by side, and finding what is due reads no more
rows than it starts.

A 2xx answer delivers. Anything else (another status, no answer in time, a
refused connection) is tried again after the schedule's next wait, give or
take a tenth, or after the receiver's ``Retry-After`` when that is later; after
the schedule's last try the delivery is dead, kept in the log until someone
sends it again by hand. 410 Gone disables the subscription and cancels what
it still had pending.

Only one dispatcher runs at a time (the relay holds the database's lock), so
the deliveries it has in flight are known to it alone.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import Connection, Select, bindparam, insert, select, update

from stockflow.adapters.database import Database
from stockflow.adapters.tables import (
    outbox,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)
from stockflow.events import webhook_rules, webhooks
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.events.webhook_queries import envelope_of, signing_secrets
from stockflow.events.webhook_rules import Outcome

MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read; the rest is not waited for
USER_AGENT = "stockflow-webhooks"
GATHER = 0.003  # seconds run_once waits, once one try finished, for others to finish too
_PENDING = str(DeliveryStatus.PENDING)


@dataclass(frozen=True, slots=True)
class Job:
    """One try to make: a delivery, where it goes, what it says, and the secrets that sign it."""

    delivery_id: int
    subscription_id: int
    event_id: int
    aggregate: str | None
    tries: int  # made before this one
    url: str
    body: bytes | None  # None: the event is no longer kept
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tried:
    """A finished try."""

    job: Job
    outcome: Outcome
    at: datetime
    duration_ms: int


class Dispatcher:
    """Sends due deliveries; ``run_once`` in a loop, ``close`` at the end."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        schedule: Sequence[timedelta],
        timeout: float = 10.0,
        concurrency: int = 32,
        poll: float = 0.05,
        sweep: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if not schedule:
            raise ValueError("a schedule needs at least one try")
        self.db = db
        self.clock = clock
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.poll = poll  # how long run_once waits for a try in flight to finish
        self.sweep = sweep  # seconds between looks for aggregates left with no delivery due
        self._swept = -sweep
        self.rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._inflight: dict[asyncio.Task[Tried], int] = {}

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._inflight)

    async def run_once(self) -> int:
        """Record the tries that finished, start what is due; how many of both (0: idle)."""
        if self._inflight:
            done, _ = await asyncio.wait(
                self._inflight, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED
            )
            if done and len(done) < len(self._inflight):
                # Answers come in bunches: a moment more records several in one trip.
                await asyncio.wait(self._inflight, timeout=GATHER)
        finished = self._harvest()
        sweep = time.monotonic() - self._swept >= self.sweep
        if sweep:
            self._swept = time.monotonic()
        free = self.concurrency - len(self._inflight)
        busy = set(self._inflight.values())
        jobs = await asyncio.to_thread(self._step, finished, free, busy, sweep)
        for job in jobs:
            self._inflight[asyncio.create_task(self._send(job))] = job.delivery_id
        return len(finished) + len(jobs)

    def _step(self, finished: list[Tried], free: int, busy: set[int], sweep: bool) -> list[Job]:
        """One trip to the database: what finished recorded, then what is due now."""
        if finished:
            self._record(finished)
        if sweep:
            self._wake_stranded()
        return self._due(free, busy) if free > 0 else []

    async def close(self) -> None:
        """Let the tries in flight finish (within the timeout), record them, close connections."""
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self.timeout + 1)
        for task in self._inflight:
            if not task.done():
                task.cancel()  # its delivery stays pending and is tried again later
        finished = self._harvest()
        self._inflight.clear()
        if finished:
            await asyncio.to_thread(self._record, finished)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- sending ----------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        """One session for every receiver, its connections kept alive between requests."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"user-agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # receivers' cookies are not kept
            )
        return self._session

    async def _send(self, job: Job) -> Tried:
        at = self.clock()
        started = time.monotonic()
        if job.body is None:
            outcome = Outcome(None, "the event is no longer kept")
        else:
            outcome = await self._post(job, job.body, at)
        return Tried(job, outcome, at, int((time.monotonic() - started) * 1000))

    async def _post(self, job: Job, body: bytes, at: datetime) -> Outcome:
        headers = webhook_rules.signed_headers(
            job.secrets, str(job.event_id), int(at.timestamp()), body
        )
        headers["content-type"] = "application/json"
        try:
            async with self._http().post(
                job.url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                await _drain(answer)
                status = answer.status
                retry_after = answer.headers.get("retry-after")
        except TimeoutError:
            return Outcome(None, f"no answer within {self.timeout:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Outcome(status, error, webhook_rules.retry_after(retry_after, at))

    def _harvest(self) -> list[Tried]:
        done = [task for task in self._inflight if task.done()]
        finished = []
        for task in done:
            del self._inflight[task]
            if not task.cancelled():
                finished.append(task.result())
        return finished

    # --- the database -----------------------------------------------------------------------

    def _due(self, limit: int, busy: set[int]) -> list[Job]:
        """Deliveries whose time has come and whose aggregate has nothing earlier pending."""
        now = self.clock()
        with self.db.read() as conn:
            rows = conn.execute(due_query(now, limit, busy)).all()
            secrets = signing_secrets(conn, [r.subscription_id for r in rows], now)
        return [
            Job(
                delivery_id=r.delivery_id,
                subscription_id=r.subscription_id,
                event_id=r.event_id,
                aggregate=r.delivery_aggregate,
                tries=r.attempts,
                url=r.url,
                body=None if r.topic is None else envelope_of(r).body(),  # None: pruned
                secrets=tuple(secrets.get(r.subscription_id, ())),
            )
            for r in rows
        ]

    def _record(self, finished: Sequence[Tried]) -> None:
        """Every try's row, every delivery's new state, in one transaction."""
        now = self.clock()
        changes = [self._change(t, now) for t in finished]
        gone = sorted({t.job.subscription_id for t in finished if t.outcome.gone})
        done = {
            (t.job.subscription_id, t.job.aggregate)
            for t, c in zip(finished, changes, strict=True)
            if t.job.aggregate is not None and c["b_status"] != _PENDING
        }

        def write() -> None:
            with self.db.write() as conn:
                record_tries(conn, finished, changes)
                webhooks.wake(conn, done, now)
                reason = f"the receiver answered 410 Gone ({now:%Y-%m-%d %H:%M} UTC)"
                webhooks.disable(conn, gone, reason, now=now)

        self.db.retrying(write)

    def _wake_stranded(self) -> None:
        def write() -> None:
            with self.db.write() as conn:
                webhooks.wake_stranded(conn, self.clock())

        self.db.retrying(write)

    def _change(self, tried: Tried, now: datetime) -> dict[str, object]:
        tries = tried.job.tries + 1
        outcome = tried.outcome
        status, next_at = DeliveryStatus.PENDING, None
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
        elif outcome.gone:
            status = DeliveryStatus.CANCELLED
        elif tried.job.body is None:
            status = DeliveryStatus.DEAD
        else:
            next_at = webhook_rules.next_try(self.schedule, tries, outcome, now, self.rng)
            status = DeliveryStatus.PENDING if next_at is not None else DeliveryStatus.DEAD
        return {
            "b_id": tried.job.delivery_id,
            "b_status": str(status),
            "b_attempts": tries,
            "b_next": next_at or now,
            "b_last_status": outcome.status,
            "b_last_error": outcome.error,
            "b_finished": None if status is DeliveryStatus.PENDING else now,
        }


async def _drain(answer: aiohttp.ClientResponse) -> None:
    """Read a short answer to its end, so the connection can be used again; a long one is cut."""
    read = 0
    while read <= MAX_ANSWER and (chunk := await answer.content.read(MAX_ANSWER)):
        read += len(chunk)


def due_query(now: datetime, limit: int, busy: set[int]) -> Select[Any]:
    """The deliveries to try now, oldest due first, at most ``limit``, none of ``busy``.

    Only an aggregate's first pending delivery has a time, so this is a walk
    along the due index that stops after ``limit`` rows (plus those in flight).
    Each comes with its event as the outbox keeps it (none once pruned).
    """
    d = webhook_deliveries.c
    s = webhook_subscriptions.c
    query = (
        select(
            d.id.label("delivery_id"),
            d.subscription_id,
            d.event_id,
            d.aggregate.label("delivery_aggregate"),
            d.attempts,
            s.url,
            *outbox.c,
        )
        .join(webhook_subscriptions, s.id == d.subscription_id)
        .outerjoin(outbox, outbox.c.id == d.event_id)
        .where(
            d.status == _PENDING,
            d.next_attempt_at <= now,
            s.status == str(SubscriptionStatus.ACTIVE),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    )
    if busy:
        query = query.where(d.id.not_in(sorted(busy)))
    return query


def record_tries(
    conn: Connection, finished: Sequence[Tried], changes: Sequence[dict[str, object]]
) -> None:
    """Write the tries' rows and the deliveries' new state (one no longer pending is left be)."""
    conn.execute(
        insert(webhook_attempts),
        [
            {
                "delivery_id": t.job.delivery_id,
                "attempted_at": t.at,
                "http_status": t.outcome.status,
                "error": t.outcome.error,
                "duration_ms": t.duration_ms,
            }
            for t in finished
        ],
    )
    d = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == bindparam("b_id"), d.status == _PENDING)
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            last_status=bindparam("b_last_status"),
            last_error=bindparam("b_last_error"),
            finished_at=bindparam("b_finished"),
        ),
        list(changes),
    )
