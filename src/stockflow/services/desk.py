"""Group commit for reservations: concurrent requests share one transaction.

Under a flash sale a hundred callers may want the same SKU at once. Giving each
its own transaction means one durable commit per unit, one after the other,
because they all wait for the same row lock. The desk queues requests and lets
a worker take everything waiting, run it through ``reserve_many`` in one
transaction and commit once. Each request is still all-or-nothing on its own,
and nothing is acknowledged before the commit that holds it is durable.

Once a SKU has sold out, the crowd keeps asking. Batches that only ask for SKUs
seen empty are first judged from a committed snapshot without locks (one round
trip, no commit); only if something could succeed do they take the locked path.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime

from stockflow.adapters.database import Database
from stockflow.domain.commands import Reserve
from stockflow.domain.errors import InsufficientStock
from stockflow.queries.reservations import ReservationView
from stockflow.services.reservations import Outcome, check_reserve, refusals, reserve_many

_Item = tuple[Reserve, "Future[Outcome]"]


class ReservationDesk:
    """Takes reservation requests from many threads and commits them in batches."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        workers: int = 1,
        max_batch: int = 256,
        linger: float = 0.001,
    ) -> None:
        self._db = db
        self._clock = clock
        self._workers = workers
        self._max_batch = max_batch
        self._linger = linger
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False
        self._dry: set[str] = set()

    def reserve(self, cmd: Reserve) -> ReservationView:
        """Reserve every line of ``cmd`` or none; blocks until the outcome is durable."""
        check_reserve(cmd)
        outcome = self.submit(cmd).result()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def reserve_async(self, cmd: Reserve) -> ReservationView:
        """``reserve`` for an event loop: waits without holding a thread."""
        check_reserve(cmd)
        outcome = await asyncio.wrap_future(self.submit(cmd))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def submit(self, cmd: Reserve) -> Future[Outcome]:
        """Queue a checked request; the future holds a view or the error for this request."""
        if self._closed:
            raise RuntimeError("the reservation desk is closed")
        self._start()
        future: Future[Outcome] = Future()
        self._queue.put((cmd, future))
        return future

    def close(self) -> None:
        """Finish what is queued and stop the workers."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _start(self) -> None:
        if self._threads:
            return
        with self._start_lock:
            if self._threads:
                return
            for n in range(self._workers):
                thread = threading.Thread(
                    target=self._work, name=f"reservation-desk-{n}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        last = 1
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            # Under load, callers answered by the last batch are about to ask
            # again: wait a fraction of a commit for as many as came last time.
            deadline = time.perf_counter() + (self._linger if last > 1 else 0.0)
            while len(batch) < self._max_batch:
                wait = deadline - time.perf_counter() if len(batch) < last else 0.0
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # leave the stop signal for this worker's next turn
                    break
                batch.append(item)
            last = len(batch)
            self._run(batch)

    def _run(self, batch: Sequence[_Item]) -> None:
        commands = [cmd for cmd, _ in batch]
        if self._sold_out(commands):
            refused = self._db.snapshot(
                lambda conn: refusals(conn, commands, today=self._clock().date())
            )
            if refused is not None:
                self._settle(batch, refused)
                return
        try:
            outcomes = self._db.run(
                lambda conn: reserve_many(
                    conn, commands, today=self._clock().date(), now=self._clock()
                ),
                idempotent=any(cmd.idempotency_key for cmd in commands),
            )
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            # One request broke the shared transaction (a constraint, a lost
            # connection): run each alone so the others are not punished for it.
            for item in batch:
                self._run([item])
            return
        self._settle(batch, outcomes)

    def _settle(self, batch: Sequence[_Item], outcomes: Sequence[Outcome]) -> None:
        """Hand each caller its outcome and remember which SKUs just ran dry."""
        for (cmd, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, InsufficientStock):
                if outcome.available == 0 and outcome.location is None:
                    self._dry.add(outcome.sku)
            elif isinstance(outcome, ReservationView):
                self._dry.difference_update(line.sku for line in cmd.lines)
            future.set_result(outcome)

    def _sold_out(self, commands: Sequence[Reserve]) -> bool:
        """Whether every SKU asked for had no free stock at the last look.

        Only a hint for choosing the cheap path first: the answer itself always
        comes from a fresh read of the database.
        """
        return all(line.sku in self._dry for cmd in commands for line in cmd.lines)
