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
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Connection

from stockflow.adapters import audit
from stockflow.adapters.database import Database, Line
from stockflow.errors import StockflowError

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")


class _Call(Generic[C, R]):
    """One queued command and the way back to its caller.

    A thread waits on a lock the worker releases; a coroutine awaits a future
    on its own loop, which the worker settles with one hand-off per loop and
    batch (so a hundred answers wake an event loop once, not a hundred times).
    """

    __slots__ = ("acting", "cmd", "done", "future", "outcome")

    def __init__(self, cmd: C, future: asyncio.Future[R] | None = None) -> None:
        self.cmd: C = cmd
        self.acting = audit.current()  # who the caller acts for, to be named in the batch's trail
        self.outcome: R | BaseException | None = None
        self.future: asyncio.Future[R] | None = future
        self.done: threading.Lock | None = None
        if future is None:
            self.done = threading.Lock()
            self.done.acquire()


class Desk(Generic[C, R]):
    """Takes commands from many threads and event loops and commits them in batches."""

    name = "desk"
    generic_plans = False  # True when every statement of a batch is a lookup by key

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
        self._pending: deque[_Call[C, R]] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._want = 0  # a lingering worker is woken when this many commands wait
        self._threads: list[threading.Thread] = []
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

    def shortcut(self, line: Line, cmds: list[C]) -> list[R | StockflowError] | None:
        """Outcomes for the whole batch without the locked path, when that is safe."""
        return None

    def settled(self, cmds: Sequence[C], outcomes: Sequence[R | StockflowError]) -> None:
        """Called with every batch's outcomes before the callers see them."""

    # the machinery -----------------------------------------------------------------
    def call(self, cmd: C) -> R:
        """Run ``cmd``; blocks until its outcome is durable."""
        self.check(cmd)
        call: _Call[C, R] = _Call(cmd)
        self._enqueue(call)
        assert call.done is not None
        call.done.acquire()
        return _unwrap(call.outcome)

    def call_async(self, cmd: C) -> asyncio.Future[R]:
        """``call`` for an event loop: a future to await, which holds no thread.

        A malformed command is refused at once, before anything is queued. A
        caller that gives up (a dropped connection) does not stop its command:
        it may still commit, as it would have had the answer merely been lost.
        """
        self.check(cmd)
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._enqueue(_Call(cmd, future))
        return future

    def close(self) -> None:
        """Finish what is queued and stop the workers."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _enqueue(self, call: _Call[C, R]) -> None:
        with self._lock:  # the condition's own lock, without its wrapper's cost
            if self._closed:
                raise RuntimeError(f"the {self.name} is closed")
            if not self._threads:
                self._start()
            self._pending.append(call)
            waiting = len(self._pending)
            if waiting == 1 or waiting == self._want:
                self._ready.notify()

    def _start(self) -> None:
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"{self.name}-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        line = self._db.line(generic_plans=self.generic_plans)
        try:
            self._serve(line)
        finally:
            line.close()

    def _serve(self, line: Line) -> None:
        last = 1
        while True:
            with self._ready:
                while not self._pending:
                    if self._closed:
                        return
                    self._ready.wait()
                # Under load, callers answered by the last batch are about to ask
                # again: wait a fraction of a commit for as many as came last time.
                if len(self._pending) < last:
                    self._want = last
                    self._ready.wait(self._linger)
                    self._want = 0
                take = min(len(self._pending), self._max_batch)
                batch = [self._pending.popleft() for _ in range(take)]
            last = len(batch)
            self._run(line, batch)

    def _run(self, line: Line, batch: Sequence[_Call[C, R]]) -> None:
        cmds = [call.cmd for call in batch]
        outcomes: Sequence[R | BaseException] | None
        line.recorded = ()
        staged: list[audit.Staged] = []  # the audit records of the transaction that committed
        try:
            outcomes = self.shortcut(line, cmds)
            if outcomes is None:
                outcomes = line.run(
                    lambda conn: _audited(conn, batch, self.run_batch, staged),
                    idempotent=any(self.keyed(cmd) for cmd in cmds),
                )
        except Exception as exc:
            if len(batch) > 1:
                # One command broke the shared transaction (a constraint, a lost
                # connection): run each alone so the others are not punished for it.
                for call in batch:
                    self._run(line, [call])
                return
            outcomes = [exc]
        else:
            for acting in staged[-1].written if staged else ():  # committed: rows are in
                acting.recorded = True
            try:
                self.settled(cmds, outcomes)
            except Exception:  # a hint gone wrong must not cost anyone their answer
                log.exception("%s: settling a batch failed", self.name)
            self._react(line)
        _answer(batch, outcomes)

    def _react(self, line: Line) -> None:
        """Run the reactions to the batch's events before its callers hear back.

        The batch has committed: a reaction that fails cannot take that back, nor
        may it cost the callers their answers. It is logged; what it would have
        done (offer free stock to waiting orders) the next fill for the SKU does.
        """
        events, line.recorded = line.recorded, ()
        if not events:
            return
        try:
            self._db.react(events)
        except Exception:
            log.exception("%s: reacting to a batch's events failed", self.name)


def _audited(
    conn: Connection,
    batch: Sequence[_Call[C, R]],
    run_batch: Callable[[Connection, list[C]], list[R | StockflowError]],
    staged: list[audit.Staged],
) -> list[R | StockflowError]:
    """Run the batch with its callers' audit records staged; write those it did not take.

    Every caller whose command took effect gets its row in the batch's
    transaction: from the batch function's own statement when it takes them
    (``audit.staged_rows``), else here, after it.
    """
    staged.append(audit.stage(conn, [call.acting for call in batch]))
    outcomes = run_batch(conn, [call.cmd for call in batch])
    done = (i for i, outcome in enumerate(outcomes) if not isinstance(outcome, StockflowError))
    audit.write(conn, audit.staged_rows(conn, done, now=datetime.now(UTC)))
    return outcomes


def _unwrap(outcome: R | BaseException | None) -> R:
    if isinstance(outcome, BaseException):
        raise outcome
    assert outcome is not None
    return outcome


def _answer(batch: Sequence[_Call[C, R]], outcomes: Sequence[R | BaseException]) -> None:
    """Hand each caller its outcome: threads one by one, event loops once per batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Call[C, R]]] = {}
    for call, outcome in zip(batch, outcomes, strict=True):
        call.outcome = outcome
        if call.future is None:
            assert call.done is not None
            call.done.release()
        else:
            by_loop.setdefault(call.future.get_loop(), []).append(call)
    for loop, calls in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody left to tell
            loop.call_soon_threadsafe(_settle, calls)


def _settle(calls: list[_Call[C, R]]) -> None:
    for call in calls:
        future = call.future
        if future is None or future.done():
            continue  # the caller gave up waiting
        outcome = call.outcome
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        elif outcome is not None:
            future.set_result(outcome)
