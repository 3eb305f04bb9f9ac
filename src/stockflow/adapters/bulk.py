"""Many-row writes in as few statements as the database allows.

On PostgreSQL each column travels as one array parameter and ``unnest`` turns
the arrays back into rows, and several writes share one statement as
data-modifying CTEs: a whole batch of reservations is one round trip with a
short, cacheable text. SQLite runs in-process, where plain ``executemany`` is
already cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows (all with the same keys) to insert into a table."""

    table: Table
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Increment:
    """``col = col + delta`` for rows of a table by id; the caller has locked them already."""

    table: Table
    deltas: Mapping[int, Mapping[str, int]]


def write(conn: Connection, *steps: Insert | Increment) -> None:
    """Apply every step, in one statement on PostgreSQL."""
    steps = tuple(s for s in steps if (s.rows if isinstance(s, Insert) else s.deltas))
    if not steps:
        return
    if conn.dialect.name != "postgresql":
        for step in steps:
            _write_portable(conn, step)
        return
    parts: list[str] = []
    params: dict[str, Any] = {}
    for n, step in enumerate(steps):
        sql, values = (
            _pg_insert(conn, step, f"p{n}_")
            if isinstance(step, Insert)
            else _pg_increment(step, f"p{n}_")
        )
        parts.append(f"w{n} AS ({sql})")
        params.update(values)
    conn.exec_driver_sql(f"WITH {', '.join(parts)} SELECT 1", params)


def _write_portable(conn: Connection, step: Insert | Increment) -> None:
    if isinstance(step, Insert):
        conn.execute(step.table.insert(), list(step.rows))
        return
    table, ids = step.table, sorted(step.deltas)
    columns = list(step.deltas[ids[0]])
    stmt = table.update().where(table.c.id == bindparam("row_id"))
    stmt = stmt.values({c: table.c[c] + bindparam(f"d_{c}") for c in columns})
    conn.execute(
        stmt, [{"row_id": i, **{f"d_{c}": step.deltas[i][c] for c in columns}} for i in ids]
    )


def _pg_insert(conn: Connection, step: Insert, prefix: str) -> tuple[str, dict[str, Any]]:
    columns = list(step.rows[0])
    arrays = ", ".join(
        f"%({prefix}{c})s::{step.table.c[c].type.compile(dialect=conn.dialect)}[]" for c in columns
    )
    sql = f"INSERT INTO {step.table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    return sql, {f"{prefix}{c}": [row[c] for row in step.rows] for c in columns}


def _pg_increment(step: Increment, prefix: str) -> tuple[str, dict[str, Any]]:
    name, ids = step.table.name, sorted(step.deltas)
    columns = list(step.deltas[ids[0]])
    sets = ", ".join(f"{c} = {name}.{c} + d.{c}" for c in columns)
    arrays = ", ".join(f"%({prefix}{c})s::bigint[]" for c in ["id", *columns])
    sql = (
        f"UPDATE {name} SET {sets} FROM unnest({arrays}) AS d(id, {', '.join(columns)}) "
        f"WHERE {name}.id = d.id"
    )
    values = {f"{prefix}{c}": [step.deltas[i][c] for i in ids] for c in columns}
    return sql, {f"{prefix}id": ids, **values}
