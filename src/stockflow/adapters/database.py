"""Engines and transactions for the two supported databases: SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from stockflow.adapters import audit
from stockflow.adapters.outbox import Event, run_before_commit, start_recording, take_recorded

T = TypeVar("T")

# PostgreSQL error codes worth one more try: serialization failure, deadlock.
_RETRYABLE_PG = {"40001", "40P01"}
_UNIQUE_VIOLATION_PG = "23505"


def normalise_url(url: str) -> URL:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Running(Protocol):
    """A running stockflow as work that runs its own transactions sees it."""

    db: Database
    clock: Callable[[], datetime]


class Database:
    """One database: a write engine and a read engine (the same one on PostgreSQL).

    SQLite write transactions start with ``BEGIN IMMEDIATE`` so that two writers
    queue for the lock up front instead of failing when they upgrade from read.
    """

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.react: Callable[[Sequence[Event]], None] = _no_reactions
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(begin="BEGIN IMMEDIATE")
            self.read_engine = self._sqlite_engine(begin="BEGIN")
        elif self.dialect == "postgresql":
            # No pre-ping: it would cost a round trip per transaction; a dropped
            # connection surfaces as an error on first use and the pool replaces it.
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=3600,
                pool_use_lifo=True,
            )
            self.read_engine = self.engine
        else:
            raise ValueError(f"unsupported database {self.url.render_as_string()!r}")

    def _sqlite_engine(self, *, begin: str) -> Engine:
        engine = create_engine(
            self.url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=8,
            max_overflow=24,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives power loss, not only a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded database."""
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: commits when the block ends, rolls back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self, *, repeatable: bool = False) -> Iterator[Connection]:
        """One read-only transaction with a consistent snapshot.

        On PostgreSQL each statement takes its own snapshot, unless
        ``repeatable``: then every statement of the transaction sees the one
        taken by its first (REPEATABLE READ), for work that compares what
        several statements read. SQLite always reads one snapshot.
        """
        with self.read_engine.connect() as conn:
            if repeatable and not self.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def snapshot(self, work: Callable[[Connection], T]) -> T:
        """Run read-only ``work`` on committed data without holding a transaction open.

        On PostgreSQL each statement runs in autocommit (one round trip, no
        COMMIT); on SQLite in a deferred read transaction, which never blocks a writer.
        """
        if self.is_sqlite:
            with self.read() as conn:
                return work(conn)
        with self.engine.connect() as conn:
            return work(conn.execution_options(isolation_level="AUTOCOMMIT"))

    def run(
        self, work: Callable[[Connection], T], *, attempts: int = 5, idempotent: bool = False
    ) -> T:
        """Run ``work`` in a write transaction, retrying on deadlock or serialization failure.

        While a front end is acting for someone (``audit.acting_as``), the
        transaction also writes that principal's audit row.

        ``idempotent``: ``work`` first looks up an earlier write with its idempotency
        key. Two requests with one key can both miss it and race to insert; the
        loser fails on the unique key once the winner commits, and one more try
        finds the winner's write and replays it instead of failing.
        """

        def once() -> tuple[T, Sequence[Event]]:
            with self.write() as conn:
                result, events = recording(conn, work)
                acting = audit.record(conn, events, now=datetime.now(UTC))
            if acting is not None:  # committed: the command's row is in
                acting.recorded = True
            return result, events

        result, events = self.retrying(once, attempts=attempts, idempotent=idempotent)
        if events:
            self.react(events)
        return result

    def on_commit(self, react: Callable[[Sequence[Event]], None]) -> None:
        """Hand every committed transaction's recorded events to ``react``."""
        self.react = react

    def retrying(self, once: Callable[[], T], *, attempts: int = 5, idempotent: bool = False) -> T:
        """Call ``once`` (one whole transaction) until it does not fail in a retryable way."""
        for attempt in range(1, attempts + 1):
            try:
                return once()
            except (OperationalError, DBAPIError) as exc:
                if attempt == attempts or not self.retryable(exc, idempotent=idempotent):
                    raise
                time.sleep(0.005 * attempt)
        raise AssertionError("unreachable")

    def line(self, *, generic_plans: bool = False, ping_after: float = 10.0) -> Line:
        """Connections of one's own, for a worker that runs the same statements all day."""
        return Line(self, generic_plans=generic_plans, ping_after=ping_after)

    def retryable(self, exc: DBAPIError, *, idempotent: bool = False) -> bool:
        """Whether the failed transaction may simply be run again."""
        code = getattr(exc.orig, "sqlstate", None)
        if code in _RETRYABLE_PG or (idempotent and code == _UNIQUE_VIOLATION_PG):
            return True
        return self.is_sqlite and "database is locked" in str(exc.orig)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def recording(conn: Connection, work: Callable[[Connection], T]) -> tuple[T, Sequence[Event]]:
    """Run ``work`` in the connection's open transaction; its result and the events it recorded.

    The hooks its writers registered (``outbox.before_commit``) run after it,
    in the same transaction. When ``work`` fails its events and hooks are left
    behind (a connection the server dropped cannot even be asked for them); the
    next transaction forgets them.
    """
    start_recording(conn)
    result = work(conn)
    run_before_commit(conn)
    return result, take_recorded(conn)


def _no_reactions(events: Sequence[Event]) -> None:
    """Until a composition root says otherwise, committed events need no reaction."""


class Line:
    """Two connections held by one worker thread: one for writes, one for snapshots.

    A desk's worker runs the same few statements thousands of times. On
    connections of its own they stay prepared on the server, and no pool
    checkout sits between two batches. With ``generic_plans`` (for statements
    that are all lookups by key, whose best plan does not depend on the values)
    PostgreSQL plans each of them once, instead of planning the first few runs
    afresh to compare. A connection that has been quiet for ``ping_after`` seconds is
    checked before use (the server may have restarted or timed it out), and one
    whose statement failed in the database is given back and replaced on next
    use. Only the thread that made a line may use it.
    """

    def __init__(
        self, db: Database, *, generic_plans: bool = False, ping_after: float = 10.0
    ) -> None:
        self._db = db
        self._generic_plans = generic_plans
        self._ping_after = ping_after
        self._conns: dict[bool, Connection] = {}  # keyed by "for snapshots"
        self.recorded: Sequence[Event] = ()
        self._used: dict[bool, float] = {}

    def run(
        self, work: Callable[[Connection], T], *, attempts: int = 5, idempotent: bool = False
    ) -> T:
        """``Database.run`` on this line's write connection.

        The events the transaction recorded wait in ``recorded`` for the caller
        (a desk) to hand on once it has answered nobody yet.
        """

        def once() -> tuple[T, Sequence[Event]]:
            return self._in_transaction(lambda conn: recording(conn, work), reads=False)

        result, self.recorded = self._db.retrying(once, attempts=attempts, idempotent=idempotent)
        return result

    def snapshot(self, work: Callable[[Connection], T]) -> T:
        """``Database.snapshot`` on this line's read connection."""
        return self._in_transaction(work, reads=True)

    def close(self) -> None:
        """Give both connections back, as the pool handed them out."""
        for reads in list(self._conns):
            self._discard(reads)

    def _in_transaction(self, work: Callable[[Connection], T], *, reads: bool) -> T:
        conn = self._connection(reads)
        try:
            with conn.begin():
                return work(conn)
        except DBAPIError:
            self._discard(reads)
            raise

    def _connection(self, reads: bool) -> Connection:
        now = time.monotonic()
        conn = self._conns.get(reads)
        quiet = conn is not None and now - self._used[reads] > self._ping_after
        if conn is not None and quiet and not self._alive(conn):
            self._discard(reads)
            conn = None
        if conn is None:
            conn = self._conns[reads] = self._open(reads)
        self._used[reads] = now
        return conn

    def _open(self, reads: bool) -> Connection:
        engine = self._db.read_engine if reads else self._db.engine
        for attempt in (1, 2):
            conn = engine.connect()
            if self._db.is_sqlite:
                return conn
            mode = "force_generic_plan" if self._generic_plans else "auto"
            try:
                conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")  # also: is it alive?
                conn.commit()
            except DBAPIError:
                # A pooled connection the server dropped: the pool now knows, so
                # the second try gets a new one.
                conn.invalidate()
                conn.close()
                if attempt == 2:
                    raise
                continue
            if reads:  # each statement its own snapshot: one round trip, no COMMIT
                conn.execution_options(isolation_level="AUTOCOMMIT")
            return conn
        raise AssertionError("unreachable")

    def _alive(self, conn: Connection) -> bool:
        if self._db.is_sqlite:
            return True
        try:
            conn.exec_driver_sql("SELECT 1")
            conn.commit()  # not a rollback: that would forget the prepared statements
        except DBAPIError:
            return False
        return True

    def _discard(self, reads: bool) -> None:
        """Close a connection; a PostgreSQL one is first set back as the pool handed it out."""
        conn = self._conns.pop(reads)
        try:
            if not self._db.is_sqlite and not conn.invalidated:
                if conn.in_transaction():
                    conn.rollback()
                conn.exec_driver_sql("RESET ALL")
                conn.commit()
        except DBAPIError:
            conn.invalidate()
        finally:
            conn.close()
