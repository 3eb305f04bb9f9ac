"""How far a table's ids are settled: no transaction still running may commit a row below them.

On PostgreSQL a row's id comes from a sequence when it is inserted, not when it
commits: a transaction that took id 100 may commit after one that took 101. A
reader that sees 101 and not 100 must not conclude that nothing below 101 is
still to come. Every writer locks the table (ROW EXCLUSIVE, taken before the
insert computes its ids, held to the end of the transaction), so: read how far
the sequence has gone, note the transactions then holding that lock, and wait
until each has ended. Every id up to the sequence's value is then committed or
never will be, and any snapshot taken afterwards sees all of them that exist.
Nobody is blocked meanwhile: this waits beside the writers, not in their way,
the way ``CREATE INDEX CONCURRENTLY`` waits for older transactions.

SQLite has one writer at a time, and each new id is one more than the highest
committed one, so every id up to the highest committed one is settled.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Table, bindparam, func, select, text

from stockflow.adapters.database import Database

_WRITERS = text(
    "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation'"
    " AND relation = CAST(:table AS regclass) AND mode = 'RowExclusiveLock' AND granted"
    " AND pid <> pg_backend_pid()"
)
_STILL_WRITING = text(
    "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation'"
    " AND relation = CAST(:table AS regclass) AND mode = 'RowExclusiveLock'"
    " AND virtualtransaction IN :writers"
).bindparams(bindparam("writers", expanding=True))


def settled_through(db: Database, table: Table, *, timeout: float) -> int | None:
    """The highest id of ``table`` at or below which every row that will ever commit has.

    None when writers holding lower ids are still running after ``timeout``
    seconds (an import that takes minutes): nothing new is known to be settled.
    """
    if db.is_sqlite:
        with db.read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        high = conn.execute(
            text("SELECT pg_sequence_last_value(pg_get_serial_sequence(:table, 'id'))"),
            {"table": table.name},
        ).scalar()
        # Read after the sequence: a writer holding an id up to ``high`` took the
        # lock before that id, so it is listed now unless it has already ended.
        writers = list(conn.execute(_WRITERS, {"table": table.name}).scalars())
        if writers and not _outlived(conn, table, writers, timeout):
            return None
    return int(high or 0)


def _outlived(conn: Connection, table: Table, writers: list[str], timeout: float) -> bool:
    """Wait until none of ``writers`` holds the table's lock any more; False on timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while writers:
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        writers = list(
            conn.execute(_STILL_WRITING, {"table": table.name, "writers": writers}).scalars()
        )
    return True
