"""Many-row writes in one statement with a short, cacheable text.

On PostgreSQL each column travels as one array parameter and ``unnest`` turns
them back into rows, so inserting 30 rows costs one round trip and one small
statement instead of 150 parameters. SQLite runs in-process, where
``executemany`` is already cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam


def _pg_type(table: Table, column: str, conn: Connection) -> str:
    return str(table.c[column].type.compile(dialect=conn.dialect))


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    arrays = ", ".join(f"%({c})s::{_pg_type(table, c, conn)}[]" for c in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
        {c: [row[c] for row in rows] for c in columns},
    )


def add_to_columns(conn: Connection, table: Table, deltas: Mapping[int, Mapping[str, int]]) -> None:
    """``UPDATE table SET col = col + delta`` for many rows by id.

    The caller has locked the rows already (see ``adapters.locks``), so the order
    in which this statement visits them cannot deadlock.
    """
    if not deltas:
        return
    ids = sorted(deltas)
    columns = list(deltas[ids[0]])
    if conn.dialect.name != "postgresql" or len(ids) == 1:
        stmt = table.update().where(table.c.id == bindparam("row_id"))
        stmt = stmt.values({c: table.c[c] + bindparam(f"d_{c}") for c in columns})
        conn.execute(
            stmt, [{"row_id": i, **{f"d_{c}": deltas[i][c] for c in columns}} for i in ids]
        )
        return
    sets = ", ".join(f"{c} = {table.name}.{c} + d.{c}" for c in columns)
    arrays = ", ".join(f"%({c})s::bigint[]" for c in ["id", *columns])
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS d(id, {', '.join(columns)}) "
        f"WHERE {table.name}.id = d.id",
        {"id": ids, **{c: [deltas[i][c] for i in ids] for c in columns}},
    )
