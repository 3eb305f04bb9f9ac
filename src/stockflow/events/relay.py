"""The relay: the one process that takes committed events out of the outbox and sends them on.

It holds the relay lease (``events.lease``) and, while it does, repeats:

1. **Sequence.** Committed outbox rows not yet in the stream get the next
   ``sequence`` numbers and their aggregate's next ``aggregate_sequence``, in
   the order the relay first sees them committed. Rows of one aggregate commit
   one after the other (the aggregate's rows are locked by the change), so the
   numbers follow the aggregate's real history. In the same transaction every
   webhook subscription that may see an event gets a pending delivery, so a
   crash between two steps loses nothing.
2. **Publish** to the message broker, when one is configured, and mark the
   rows published once it acknowledged them; with none, rows are published
   by step 1.
3. **Deliver** due webhook deliveries (the dispatcher).
4. **Prune** published rows older than the retention, once no delivery still
   needs them.

Every step is safe to repeat: a relay that dies mid-batch leaves rows
unsequenced (the transaction rolled back) or sequenced and not yet
acknowledged (they are published again, with the same id, which the broker
and every receiver use to drop the repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, RowMapping, bindparam, delete, exists, select, update

from stockflow.adapters.database import Database
from stockflow.adapters.sets import among
from stockflow.adapters.tables import event_aggregates, outbox, webhook_deliveries
from stockflow.adapters.upsert import upsert
from stockflow.events.lease import Lease, LeaseLost, lease_for
from stockflow.events.rules import DeliveryStatus, Envelope
from stockflow.events.stream import envelope

log = logging.getLogger(__name__)

# The stream's own counter lives beside the aggregates' (it survives pruning).
_STREAM = ("*", "*")
_PRUNE_CHUNK = 5_000


class FanOut(Protocol):
    """A way out that takes its share inside the sequencing transaction (webhook deliveries)."""

    def __call__(self, conn: Connection, envelopes: Sequence[Envelope], now: datetime) -> int:
        """Queue what these events need; return how many things were queued."""
        ...


class Broker(Protocol):
    """A message broker: everything handed over is acknowledged, or the call raises."""

    async def connect(self) -> None:
        """Connect (and set up what must exist)."""

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Publish the events in order; return once every one is acknowledged."""

    async def close(self) -> None:
        """Disconnect."""


class Dispatcher(Protocol):
    """Sends due webhook deliveries."""

    async def run_once(self) -> int:
        """Send what is due now; how many were tried (0: nothing was due)."""
        ...

    async def close(self) -> None:
        """Stop and let connections go."""


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """How the relay paces itself."""

    batch: int = 500  # events sequenced (and published) per transaction
    poll: float = 0.05  # seconds between looks at an idle outbox
    standby: float = 1.0  # seconds between tries for the lease while another relay holds it
    lease_ttl: timedelta = timedelta(seconds=15)  # SQLite: how long a silent holder keeps it
    retention: timedelta = timedelta(days=7)  # published events are kept this long
    prune_every: float = 60.0  # seconds between prunes


class Relay:
    """Sequences, publishes and delivers committed events while it holds the lease."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        settings: RelaySettings | None = None,
        fan_out: Sequence[FanOut] = (),
        broker: Broker | None = None,
        dispatcher: Dispatcher | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or RelaySettings()
        self.fan_out = tuple(fan_out)
        self.broker = broker
        self.dispatcher = dispatcher
        self.lease = lease or lease_for(db, clock, ttl=self.settings.lease_ttl)
        self.leading = False
        self.sequenced = 0  # events this relay put in the stream (for tests and benches)
        self.published = 0
        self._woken: asyncio.Event | None = None
        self.on_sequenced: Callable[[Sequence[Envelope]], None] | None = None

    # --- the steps --------------------------------------------------------------

    def sequence_once(self) -> list[Envelope]:
        """Put the next batch of committed events in the stream; the envelopes (none: idle).

        An idle outbox costs one read (which never waits for a writer on SQLite)
        and a check that the lease is still held.
        """
        if not self.db.snapshot(_anything_to_number):
            self.lease.keep()
            return []
        with self.lease.transaction() as conn:
            rows = conn.execute(
                select(
                    outbox.c.id, outbox.c.topic, outbox.c.version, outbox.c.aggregate,
                    outbox.c.key, outbox.c.created_at, outbox.c.payload, outbox.c.scope,
                )
                .where(outbox.c.published_at.is_(None), outbox.c.sequence.is_(None))
                .order_by(outbox.c.id)
                .limit(self.settings.batch)
            ).mappings().all()  # fmt: skip
            if not rows:
                return []
            now = self.clock()
            envelopes = _numbered(conn, rows)
            published = now if self.broker is None else None
            conn.execute(
                update(outbox)
                .where(outbox.c.id == bindparam("event_id"))
                .values(
                    sequence=bindparam("seq"),
                    aggregate_sequence=bindparam("agg_seq"),
                    published_at=published,
                ),
                [
                    {"event_id": e.id, "seq": e.sequence, "agg_seq": e.aggregate_sequence}
                    for e in envelopes
                ],
            )
            for fan_out in self.fan_out:
                fan_out(conn, envelopes, now)
        self.sequenced += len(envelopes)
        if self.broker is None:
            self.published += len(envelopes)
        if self.on_sequenced is not None:
            self.on_sequenced(envelopes)
        return envelopes

    async def publish_once(self) -> int:
        """Publish the next batch of sequenced, unpublished events to the broker."""
        broker = self.broker
        if broker is None:
            return 0
        envelopes = await asyncio.to_thread(self._unpublished)
        if not envelopes:
            return 0
        await broker.publish(envelopes)
        await asyncio.to_thread(self._mark_published, [e.id for e in envelopes])
        self.published += len(envelopes)
        return len(envelopes)

    def _unpublished(self) -> list[Envelope]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    outbox.c.id, outbox.c.topic, outbox.c.version, outbox.c.sequence,
                    outbox.c.aggregate, outbox.c.key, outbox.c.aggregate_sequence,
                    outbox.c.created_at, outbox.c.payload, outbox.c.scope,
                )
                .where(outbox.c.published_at.is_(None), outbox.c.sequence.is_not(None))
                .order_by(outbox.c.sequence)
                .limit(self.settings.batch)
            ).mappings()  # fmt: skip
            return [envelope(r) for r in rows]

    def _mark_published(self, ids: Sequence[int]) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(outbox).where(among(outbox.c.id, ids)).values(published_at=self.clock())
            )

    def prune_once(self) -> int:
        """Delete published events older than the retention that no delivery still needs.

        Pruning (like marking rows published) needs no lease: a relay that lost
        its lease meanwhile only does what its successor would have done.
        """
        cutoff = self.clock() - self.settings.retention
        pending = exists().where(
            webhook_deliveries.c.event_id == outbox.c.id,
            webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
        )
        removed = 0
        while True:
            with self.db.write() as conn:
                ids = conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.published_at < cutoff, ~pending)
                    .order_by(outbox.c.id)
                    .limit(_PRUNE_CHUNK)
                ).scalars().all()  # fmt: skip
                if ids:
                    conn.execute(delete(outbox).where(among(outbox.c.id, ids)))
                conn.execute(
                    delete(webhook_deliveries).where(
                        webhook_deliveries.c.status != DeliveryStatus.PENDING.value,
                        webhook_deliveries.c.finished_at < cutoff,
                    )
                )
            removed += len(ids)
            if len(ids) < _PRUNE_CHUNK:
                return removed

    async def drain(self) -> int:
        """Relay everything waiting now, once (the lease must be held); how many were sequenced."""
        sequenced = 0
        while batch := await asyncio.to_thread(self.sequence_once):
            sequenced += len(batch)
        if self.broker is not None:
            await self.broker.connect()
            while await self.publish_once():
                pass
        if self.dispatcher is not None:
            while await self.dispatcher.run_once():
                pass
        return sequenced

    # --- running ------------------------------------------------------------------

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Wait for the lease, then relay until ``stopping()``; if the lease is lost, wait again."""
        while not stopping():
            if not await asyncio.to_thread(self.lease.acquire):
                await _nap(self.settings.standby, stopping)
                continue
            self.leading = True
            log.info("relay: holding the lease, relaying events")
            try:
                await self._lead(stopping)
            except LeaseLost as exc:
                log.warning("relay: %s; standing by", exc)
            finally:
                self.leading = False
                await asyncio.to_thread(self._let_go)
        if self.broker is not None:
            await self.broker.close()
        if self.dispatcher is not None:
            await self.dispatcher.close()

    def _let_go(self) -> None:
        try:
            self.lease.release()
        except Exception:  # the database may be gone; the lease then expires by itself
            log.exception("relay: could not release the lease")

    async def _lead(self, stopping: Callable[[], bool]) -> None:
        self._woken = asyncio.Event()
        if self.broker is not None:
            await self.broker.connect()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._sequencing(stopping))
            if self.broker is not None:
                group.create_task(self._looping(self.publish_once, stopping))
            if self.dispatcher is not None:
                group.create_task(self._looping(self.dispatcher.run_once, stopping))
            group.create_task(self._pruning(stopping))

    async def _sequencing(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            if await asyncio.to_thread(self.sequence_once):
                if self._woken is not None:
                    self._woken.set()
                continue
            await _nap(self.settings.poll, stopping)

    async def _looping(
        self, step: Callable[[], Awaitable[int]], stopping: Callable[[], bool]
    ) -> None:
        woken = self._woken
        while not stopping():
            try:
                done = await step()
            except LeaseLost:
                raise
            except Exception:
                log.exception("relay: %s failed; trying again", getattr(step, "__name__", step))
                await _nap(1.0, stopping)
                continue
            if done:
                continue
            if woken is not None:
                woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=self.settings.poll)

    async def _pruning(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            await asyncio.to_thread(self.prune_once)
            await _nap(self.settings.prune_every, stopping)


def _anything_to_number(conn: Connection) -> bool:
    waiting = select(outbox.c.id).where(
        outbox.c.published_at.is_(None), outbox.c.sequence.is_(None)
    )
    return conn.execute(waiting.limit(1)).first() is not None


def _numbered(conn: Connection, rows: Sequence[RowMapping]) -> list[Envelope]:
    """Give rows (in the order first seen committed) the stream's and their aggregates' numbers."""
    keys = {_STREAM} | {
        (r["aggregate"], r["key"])
        for r in rows
        if r["aggregate"] is not None and r["key"] is not None
    }
    last = {
        (a, k): int(n)
        for a, k, n in conn.execute(
            select(
                event_aggregates.c.aggregate,
                event_aggregates.c.key,
                event_aggregates.c.last_sequence,
            ).where(
                # Two sets rather than one of pairs; the pairs are matched exactly here.
                among(event_aggregates.c.aggregate, {a for a, _ in keys}),
                among(event_aggregates.c.key, {k for _, k in keys}),
            )
        )
        if (a, k) in keys
    }
    counters = {k: last.get(k, 0) for k in keys}
    if counters[_STREAM] == 0:  # a stream numbered before the counter existed
        counters[_STREAM] = int(
            conn.execute(select(outbox.c.sequence).order_by(outbox.c.sequence.desc()).limit(1))
            .scalar() or 0
        )  # fmt: skip
    envelopes: list[Envelope] = []
    for m in rows:
        counters[_STREAM] += 1
        aggregate_key = (m["aggregate"], m["key"])
        agg_seq = None
        if aggregate_key in counters:
            counters[aggregate_key] += 1
            agg_seq = counters[aggregate_key]
        envelopes.append(
            Envelope(
                id=int(m["id"]),
                topic=str(m["topic"]),
                version=int(m["version"]),
                sequence=counters[_STREAM],
                aggregate=m["aggregate"],
                key=m["key"],
                aggregate_sequence=agg_seq,
                created_at=m["created_at"],
                payload=m["payload"] or {},
                scope=m["scope"],
            )
        )
    stmt = upsert(conn, event_aggregates)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[event_aggregates.c.aggregate, event_aggregates.c.key],
            set_={"last_sequence": stmt.excluded.last_sequence},
        ),
        [{"aggregate": a, "key": k, "last_sequence": n} for (a, k), n in counters.items()],
    )
    return envelopes


async def _nap(seconds: float, stopping: Callable[[], bool]) -> None:
    """Sleep, waking early (in small steps) once ``stopping()``."""
    end = asyncio.get_running_loop().time() + seconds
    while not stopping():
        left = end - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.1))


class RelayThread:
    """A relay on a thread of its own with its own event loop: how ``stockflow serve`` runs one."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="stockflow-relay", daemon=True)

    def start(self) -> RelayThread:
        """Start relaying (or standing by for the lease)."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step and let the lease go."""
        self._stop.set()
        self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self.relay.run(self._stop.is_set))
        except Exception:
            log.exception("relay stopped by an error")


__all__ = ["Broker", "Dispatcher", "FanOut", "Relay", "RelaySettings", "RelayThread"]
