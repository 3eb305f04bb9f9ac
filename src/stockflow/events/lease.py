"""Who runs the relay: one holder at a time across processes and machines, held in the database.

On PostgreSQL the holder keeps a session advisory lock on a connection of its
own and runs its sequencing transactions on that very connection: if the
connection dies the lock goes with it, and so does the right to write. Another
relay waiting for the lock takes over at once. SQLite has no advisory locks:
the holder keeps a lease row, renewed inside its own transactions, which
another relay may take once it has expired.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import DBAPIError

from stockflow.adapters.database import Database
from stockflow.adapters.tables import relay_leases
from stockflow.adapters.upsert import upsert

# The advisory lock's key: "sfrelay" as a number, unlikely to meet another application's.
RELAY_LOCK_KEY = 0x7366_7265_6C61_79


class LeaseLost(Exception):
    """The relay no longer holds its lease: it must stop delivering."""


class Lease(Protocol):
    """The right to run the relay."""

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it now."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction that commits only while the lease is held (else ``LeaseLost``)."""
        ...

    def keep(self) -> None:
        """Between transactions: make sure the lease is still held (else ``LeaseLost``)."""
        ...

    def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        ...


def holder_name() -> str:
    """This process, as a lease names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_for(db: Database, clock: Callable[[], datetime], *, ttl: timedelta) -> Lease:
    """The lease that suits the database: an advisory lock, or a lease row on SQLite."""
    if db.is_sqlite:
        return RowLease(db, clock, ttl=ttl)
    return AdvisoryLease(db)


class AdvisoryLease:
    """A PostgreSQL session advisory lock held on a connection of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None
        self._using = threading.Lock()  # one transaction at a time on the lock's connection

    def acquire(self) -> bool:
        """Try the lock without waiting."""
        if self._conn is not None:
            return True
        conn = self._db.engine.connect()
        try:
            held = bool(
                conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({RELAY_LOCK_KEY})").scalar()
            )
            conn.commit()
        except DBAPIError:
            conn.invalidate()
            conn.close()
            return False
        if not held:
            conn.close()
            return False
        self._conn = conn
        return True

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on the lock's own connection: it cannot outlive the lock."""
        with self._using:
            conn = self._conn
            if conn is None:
                raise LeaseLost("the relay's lock is not held")
            try:
                with conn.begin():
                    yield conn
            except DBAPIError as exc:
                if exc.connection_invalidated or conn.invalidated or conn.closed:
                    self._drop()
                    raise LeaseLost("the relay's connection (and so its lock) was lost") from exc
                raise

    def keep(self) -> None:
        """Ask on the lock's connection: once that connection is gone, so is the lock."""
        with self.transaction() as conn:
            conn.exec_driver_sql("SELECT 1")

    def release(self) -> None:
        """Unlock and give the connection back."""
        with self._using:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({RELAY_LOCK_KEY})")
            conn.commit()
        except DBAPIError:
            conn.invalidate()
        finally:
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()
            conn.close()


class RowLease:
    """A lease row, for SQLite: renewed in every relay transaction, taken over once expired."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, ttl: timedelta, name: str = "events"
    ) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl
        self._name = name
        self.holder = holder_name()
        self._held = False
        self._renewed = datetime.min.replace(tzinfo=UTC)

    def acquire(self) -> bool:
        """Take the row if it is free, expired or already ours."""
        now = self._clock()
        with self._db.write() as conn:
            current = conn.execute(
                select(relay_leases.c.holder, relay_leases.c.expires_at).where(
                    relay_leases.c.name == self._name
                )
            ).one_or_none()
            if current is not None and current.holder != self.holder and current.expires_at > now:
                self._held = False
                return False
            stmt = upsert(conn, relay_leases).values(
                name=self._name, holder=self.holder, expires_at=now + self._ttl
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[relay_leases.c.name],
                    set_={"holder": self.holder, "expires_at": now + self._ttl},
                )
            )
        self._held = True
        self._renewed = now
        return True

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that first renews the lease, or fails if it was taken."""
        if not self._held:
            raise LeaseLost("the relay's lease is not held")
        now = self._clock()
        with self._db.write() as conn:
            renewed = conn.execute(
                update(relay_leases)
                .where(
                    relay_leases.c.name == self._name,
                    relay_leases.c.holder == self.holder,
                    relay_leases.c.expires_at > now,
                )
                .values(expires_at=now + self._ttl)
            ).rowcount
            if renewed != 1:
                self._held = False
                raise LeaseLost("the relay's lease expired and may have been taken over")
            self._renewed = now
            yield conn

    def keep(self) -> None:
        """Renew the lease once a third of it has run out (an idle relay writes rarely)."""
        if not self._held:
            raise LeaseLost("the relay's lease is not held")
        if self._clock() >= self._renewed + self._ttl / 3:
            with self.transaction():
                pass

    def release(self) -> None:
        """Let the lease go at once, so a waiting relay need not wait for it to expire."""
        if not self._held:
            return
        self._held = False
        with self._db.write() as conn:
            conn.execute(
                update(relay_leases)
                .where(relay_leases.c.name == self._name, relay_leases.c.holder == self.holder)
                .values(expires_at=self._clock())
            )
