"""Many-row writes in as few statements as the database allows.

On PostgreSQL the rows of each write travel as one JSON parameter (encoded in
one call, in compiled code) that ``json_populate_recordset`` turns back into
typed rows, and several writes share one statement as data-modifying CTEs: a
whole batch of reservations is one round trip with a short, cacheable text.
SQLite runs in-process, where plain ``executemany`` is already cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Table, TypeDecorator, bindparam

from stockflow.adapters import driver


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
    if conn.dialect.name != "postgresql":
        for step in steps:
            if step.rows if isinstance(step, Insert) else step.deltas:
                _write_portable(conn, step)
        return
    found = statement(conn, *steps)
    if found is not None:
        driver.execute(conn, found[0].sql, found[1])


def statement(
    conn: Connection, *steps: Insert | Increment
) -> tuple[driver.Statement, dict[str, Any]] | None:
    """PostgreSQL: every step with rows as one statement and its parameters (None: no rows).

    For a caller that sends it together with others in one round trip.
    """
    steps = tuple(s for s in steps if (s.rows if isinstance(s, Insert) else s.deltas))
    if not steps:
        return None
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
    return driver.Statement(f"WITH {', '.join(parts)} SELECT 1", frozenset()), params


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
    table, columns = step.table, list(step.rows[0])
    # Typed columns (timestamps that must carry a zone) still get their checks.
    checks = {
        c: check
        for c in columns
        if isinstance(table.c[c].type, TypeDecorator)
        and (check := table.c[c].type.bind_processor(conn.dialect)) is not None
    }
    rows: Sequence[Mapping[str, Any]] = step.rows
    if checks:
        rows = [{c: checks[c](v) if c in checks else v for c, v in row.items()} for row in rows]
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_populate_recordset(NULL::{table.name}, %({prefix}rows)s::json)"
    )
    return sql, {f"{prefix}rows": to_json(rows).decode()}


def _pg_increment(step: Increment, prefix: str) -> tuple[str, dict[str, Any]]:
    name, ids = step.table.name, sorted(step.deltas)
    columns = list(step.deltas[ids[0]])
    sets = ", ".join(f"{c} = {name}.{c} + d.{c}" for c in columns)
    shape = ", ".join(f"{c} bigint" for c in ["id", *columns])
    # The ids also travel as an array: the planner then finds the rows by key
    # (it cannot tell how many rows a JSON document holds, guesses a hundred and
    # would rather read the whole table).
    sql = (
        f"UPDATE {name} SET {sets} FROM json_to_recordset(%({prefix}rows)s::json) AS d({shape}) "
        f"WHERE {name}.id = ANY(%({prefix}ids)s::bigint[]) AND {name}.id = d.id"
    )
    rows = [{"id": i, **step.deltas[i]} for i in ids]
    return sql, {f"{prefix}rows": to_json(rows).decode(), f"{prefix}ids": ids}
