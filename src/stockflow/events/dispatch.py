"""Sending webhook deliveries: signed POSTs, retries on a schedule, dead letters.

The relay awaits ``Dispatcher.run_once`` in a loop on its own event loop.
Each call records the tries that have finished since the last one (their
rows and the deliveries' new state in one transaction), then starts what is
due, up to ``concurrency`` requests in flight, over keep-alive connections.
A delivery is due when its time has come, its subscription is active and no
earlier delivery of the same aggregate to the same subscription is still
pending: one order's events reach a receiver one at a time and in order,
while different orders' go side by side.

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
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, Select, bindparam, insert, or_, select, update

from stockflow.adapters.database import Database
from stockflow.adapters.sets import among
from stockflow.adapters.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions
from stockflow.events import webhook_rules, webhooks
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.events.webhook_queries import envelopes, signing_secrets
from stockflow.events.webhook_rules import Outcome

MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read; the rest is not waited for
USER_AGENT = "stockflow-webhooks"
_PENDING = str(DeliveryStatus.PENDING)


@dataclass(frozen=True, slots=True)
class Job:
    """One try to make: a delivery, where it goes, what it says, and the secrets that sign it."""

    delivery_id: int
    subscription_id: int
    event_id: int
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
        self.rng = rng or random.Random()
        self._lanes: list[httpx.AsyncClient] = []  # idle clients, one connection each
        self._tls: ssl.SSLContext | None = None
        self._inflight: dict[asyncio.Task[Tried], int] = {}

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._inflight)

    async def run_once(self) -> int:
        """Record the tries that finished, start what is due; how many of both (0: idle)."""
        if self._inflight:
            await asyncio.wait(
                self._inflight, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED
            )
        finished = self._harvest()
        if finished:
            await asyncio.to_thread(self._record, finished)
        started = 0
        free = self.concurrency - len(self._inflight)
        if free > 0:
            jobs = await asyncio.to_thread(self._due, free, set(self._inflight.values()))
            for job in jobs:
                self._inflight[asyncio.create_task(self._send(job))] = job.delivery_id
            started = len(jobs)
        return len(finished) + started

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
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            await lane.aclose()

    # --- sending ----------------------------------------------------------------------------

    def _lane(self) -> httpx.AsyncClient:
        """A client of one connection, not in use; each request in flight has its own.

        One pool of many connections would look over every connection it holds
        (a system call each) for every request it hands out; a client per
        lane keeps that to one connection, kept alive between requests.
        """
        if self._lanes:
            return self._lanes.pop()
        if self._tls is None:  # loading the trusted certificates takes a while: once
            self._tls = httpx.create_ssl_context()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(
            timeout=self.timeout, limits=limits, follow_redirects=False, verify=self._tls
        )

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
        headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
        lane = self._lane()
        try:
            async with asyncio.timeout(self.timeout):
                request = lane.stream("POST", job.url, content=body, headers=headers)
                async with request as answer:
                    await _drain(answer)
        except TimeoutError:
            return Outcome(None, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        finally:
            self._lanes.append(lane)
        status = answer.status_code
        error = None if 200 <= status < 300 else f"HTTP {status}"
        wait = webhook_rules.retry_after(answer.headers.get("retry-after"), at)
        return Outcome(status, error, wait)

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
            kept = envelopes(conn, [r.event_id for r in rows])
            secrets = signing_secrets(conn, [r.subscription_id for r in rows], now)
        return [
            Job(
                delivery_id=r.id,
                subscription_id=r.subscription_id,
                event_id=r.event_id,
                tries=r.attempts,
                url=r.url,
                body=kept[r.event_id].body() if r.event_id in kept else None,
                secrets=tuple(secrets.get(r.subscription_id, ())),
            )
            for r in rows
        ]

    def _record(self, finished: Sequence[Tried]) -> None:
        """Every try's row, every delivery's new state, in one transaction."""
        now = self.clock()
        changes = [self._change(t, now) for t in finished]
        gone = sorted({t.job.subscription_id for t in finished if t.outcome.gone})

        def write() -> None:
            with self.db.write() as conn:
                record_tries(conn, finished, changes)
                reason = f"the receiver answered 410 Gone ({now:%Y-%m-%d %H:%M} UTC)"
                webhooks.disable(conn, gone, reason, now=now)

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


async def _drain(answer: httpx.Response) -> None:
    """Read a short answer to its end, so the connection can be used again."""
    read = 0
    async for chunk in answer.aiter_raw():
        read += len(chunk)
        if read > MAX_ANSWER:
            return


def due_query(now: datetime, limit: int, busy: set[int]) -> Select[Any]:
    """The deliveries to try now, oldest due first, at most ``limit``, none of ``busy``.

    Of an aggregate's pending deliveries to a subscription only the first (in
    stream order) may go: a lookup of one row in the pending index for each
    candidate, whatever the planner knows of the table.
    """
    d = webhook_deliveries.alias("d")
    head = webhook_deliveries.alias("head")
    s = webhook_subscriptions.c
    first_pending = (
        select(head.c.id)
        .where(
            head.c.subscription_id == d.c.subscription_id,
            head.c.aggregate == d.c.aggregate,
            head.c.status == _PENDING,
        )
        .order_by(head.c.sequence, head.c.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(d.c.id, d.c.subscription_id, d.c.event_id, d.c.attempts, s.url)
        .join(webhook_subscriptions, s.id == d.c.subscription_id)
        .where(
            d.c.status == _PENDING,
            d.c.next_attempt_at <= now,
            s.status == str(SubscriptionStatus.ACTIVE),
            or_(d.c.aggregate.is_(None), d.c.id == first_pending),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    )
    if busy:
        query = query.where(~among(d.c.id, busy))
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
