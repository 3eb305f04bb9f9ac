"""Group commit: concurrent commands share one transaction.

Under a flash sale a hundred callers may want the same SKU at once. Giving each
its own transaction means one durable commit per unit, one after the other,
because they all wait for the same row lock. A desk queues commands and lets a
worker take everything waiting, run it through one batch function (the same
locked code path a single command takes) in one transaction and commit once.
Each command is still all-or-nothing on its own, and nothing is acknowledged
before the commit that holds it is durable.

Once a SKU has sold out, the crowd keeps asking. The reservation desk judges
batches that only ask for SKUs seen empty from a committed snapshot first,
without locks (one round trip, no commit); only if something could succeed do
they take the locked path.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Connection

from stockflow.adapters.database import Database
from stockflow.domain.commands import CaptureOrder, Reserve
from stockflow.domain.errors import InsufficientStock, StockflowError
from stockflow.queries.orders import OrderView
from stockflow.queries.reservations import ReservationView
from stockflow.services.orders import OrderOutcome, capture_many, check_order
from stockflow.services.reservations import Outcome, check_reserve, refusals, reserve_many

C = TypeVar("C", Reserve, CaptureOrder)
R = TypeVar("R", ReservationView, OrderView)


class Desk(Generic[C, R]):
    """Takes commands from many threads and commits them in batches."""

    name = "desk"

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
        self._queue: queue.SimpleQueue[tuple[C, Future[R | StockflowError]] | None]
        self._queue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False

    # to be provided by each desk -------------------------------------------------
    def check(self, cmd: C) -> None:
        """Refuse a malformed command before it is queued."""
        raise NotImplementedError

    def run_batch(self, conn: Connection, cmds: list[C]) -> list[R | StockflowError]:
        """Run a batch in the caller's transaction; one outcome per command."""
        raise NotImplementedError

    def keyed(self, cmd: C) -> bool:
        """Whether the command carries an idempotency key (a lost unique race is retried)."""
        raise NotImplementedError

    def shortcut(self, cmds: list[C]) -> list[R | StockflowError] | None:
        """Outcomes for the whole batch without the locked path, when that is safe."""
        return None

    def settled(self, cmds: Sequence[C], outcomes: Sequence[R | StockflowError]) -> None:
        """Called with every batch's outcomes before the callers see them."""

    # the machinery -----------------------------------------------------------------
    def call(self, cmd: C) -> R:
        """Run ``cmd``; blocks until its outcome is durable."""
        self.check(cmd)
        outcome = self.submit(cmd).result()
        if isinstance(outcome, StockflowError):
            raise outcome
        return outcome

    async def call_async(self, cmd: C) -> R:
        """``call`` for an event loop: waits without holding a thread."""
        self.check(cmd)
        outcome = await asyncio.wrap_future(self.submit(cmd))
        if isinstance(outcome, StockflowError):
            raise outcome
        return outcome

    def submit(self, cmd: C) -> Future[R | StockflowError]:
        """Queue a checked command; the future holds its outcome (a view or an error)."""
        if self._closed:
            raise RuntimeError(f"the {self.name} is closed")
        self._start()
        future: Future[R | StockflowError] = Future()
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
                thread = threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
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

    def _run(self, batch: Sequence[tuple[C, Future[R | StockflowError]]]) -> None:
        cmds = [cmd for cmd, _ in batch]
        outcomes = self.shortcut(cmds)
        if outcomes is None:
            try:
                outcomes = self._db.run(
                    lambda conn: self.run_batch(conn, cmds),
                    idempotent=any(self.keyed(cmd) for cmd in cmds),
                )
            except Exception as exc:
                if len(batch) == 1:
                    batch[0][1].set_exception(exc)
                    return
                # One command broke the shared transaction (a constraint, a lost
                # connection): run each alone so the others are not punished for it.
                for item in batch:
                    self._run([item])
                return
        self.settled(cmds, outcomes)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            future.set_result(outcome)


class ReservationDesk(Desk[Reserve, ReservationView]):
    """Group-committed reservations, with a lock-free path for sold-out SKUs."""

    name = "reservation-desk"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        workers: int = 1,
        max_batch: int = 256,
        linger: float = 0.001,
    ) -> None:
        super().__init__(db, clock, workers=workers, max_batch=max_batch, linger=linger)
        self._dry: set[str] = set()

    def check(self, cmd: Reserve) -> None:
        check_reserve(cmd)

    def keyed(self, cmd: Reserve) -> bool:
        return cmd.idempotency_key is not None

    def run_batch(self, conn: Connection, cmds: list[Reserve]) -> list[Outcome]:
        return reserve_many(conn, cmds, today=self._clock().date(), now=self._clock())

    def shortcut(self, cmds: list[Reserve]) -> list[Outcome] | None:
        """Only SKUs seen empty: refuse from a snapshot if the snapshot says no to all."""
        if not all(line.sku in self._dry for cmd in cmds for line in cmd.lines):
            return None
        return self._db.snapshot(lambda conn: refusals(conn, cmds, today=self._clock().date()))

    def settled(self, cmds: Sequence[Reserve], outcomes: Sequence[Outcome]) -> None:
        """Remember which SKUs just ran dry (a hint for ``shortcut``, never an answer)."""
        for cmd, outcome in zip(cmds, outcomes, strict=True):
            if isinstance(outcome, InsufficientStock):
                if outcome.available == 0 and outcome.location is None:
                    self._dry.add(outcome.sku)
            elif isinstance(outcome, ReservationView):
                self._dry.difference_update(line.sku for line in cmd.lines)


class OrderDesk(Desk[CaptureOrder, OrderView]):
    """Group-committed order capture."""

    name = "order-desk"

    def check(self, cmd: CaptureOrder) -> None:
        check_order(cmd)

    def keyed(self, cmd: CaptureOrder) -> bool:
        return cmd.idempotency_key is not None or cmd.external_id is not None

    def run_batch(self, conn: Connection, cmds: list[CaptureOrder]) -> list[OrderOutcome]:
        return capture_many(conn, cmds, today=self._clock().date(), now=self._clock())
