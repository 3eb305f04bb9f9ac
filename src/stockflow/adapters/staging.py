"""Staging tables: a file's rows loaded into a temporary table, to be checked and applied in SQL.

An import loads its rows here first, then checks them with set-based
statements (each problem still named by row and column) and applies them
with ``INSERT ... SELECT``. On PostgreSQL the rows go in through ``COPY``,
the fastest way into the database, and the table is analysed so the checks
and the apply get plans that fit its size; on SQLite through
``executemany``. Either way the table lives only inside the transaction: dropped when the
block ends, and gone with a rollback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, Table, insert, text

_COPY_BATCH = 10_000  # rows between two progress calls while copying
_ANALYSE_FROM = 5_000  # rows from which a staging table is analysed before it is queried


@contextmanager
def staged(conn: Connection, name: str, *columns: Column[Any]) -> Iterator[Table]:
    """A new temporary table ``name`` with an integer ``row`` column and ``columns``.

    ``row`` is the spreadsheet row each staged row came from; it is the key.
    """
    table = Table(
        name,
        MetaData(),
        Column("row", Integer, primary_key=True, autoincrement=False),
        *columns,
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    conn.execute(text(f"DROP TABLE IF EXISTS {_qualified(conn, name)}"))
    table.create(conn)
    yield table
    # On an error the transaction rolls back, and the table it created goes with it.
    conn.execute(text(f"DROP TABLE {_qualified(conn, name)}"))


def load(
    conn: Connection,
    table: Table,
    rows: Iterable[Sequence[object]],
    *,
    count: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Put ``rows`` (values in the table's column order, ``row`` first) into ``table``.

    Returns how many rows went in; ``progress`` hears the running count now and then.
    """
    names = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        loaded = _copy(conn, table.name, names, rows, progress)
    else:
        loaded = _insert_many(conn, table, names, rows, progress)
    if conn.dialect.name == "postgresql" and (count or loaded) >= _ANALYSE_FROM:
        conn.execute(text(f"ANALYZE {table.name}"))
    return loaded


def fill(conn: Connection, table: Table, query: Any) -> None:
    """Put the rows of ``query`` (a select of the table's columns, in order) into ``table``."""
    conn.execute(insert(table).from_select([c.name for c in table.columns], query))
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table.name}"))


def _copy(
    conn: Connection,
    name: str,
    names: list[str],
    rows: Iterable[Sequence[object]],
    progress: Callable[[int], None] | None,
) -> int:
    """COPY the rows in on the transaction's own connection (psycopg streams them)."""
    dbapi: Any = conn.connection.dbapi_connection  # psycopg's own connection
    loaded = 0
    sql = f"COPY {name} ({', '.join(names)}) FROM STDIN"
    with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
        for values in rows:
            copy.write_row(values)
            loaded += 1
            if progress is not None and loaded % _COPY_BATCH == 0:
                progress(loaded)
    return loaded


def _insert_many(
    conn: Connection,
    table: Table,
    names: list[str],
    rows: Iterable[Sequence[object]],
    progress: Callable[[int], None] | None,
) -> int:
    """executemany in batches, so progress can be told and memory stays flat."""
    loaded = 0
    batch: list[dict[str, object]] = []
    statement = insert(table)
    for values in rows:
        batch.append(dict(zip(names, values, strict=True)))
        if len(batch) == _COPY_BATCH:
            conn.execute(statement, batch)
            loaded += len(batch)
            batch = []
            if progress is not None:
                progress(loaded)
    if batch:
        conn.execute(statement, batch)
        loaded += len(batch)
    return loaded


def _qualified(conn: Connection, name: str) -> str:
    """SQLite keeps temporary tables in the ``temp`` schema; say so, never to touch a real one."""
    return f"temp.{name}" if conn.dialect.name == "sqlite" else f"pg_temp.{name}"
