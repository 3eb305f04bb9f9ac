"""Hot statements compiled once per database and run on the driver's own cursor.

A few reads run for every batch of a flash sale. SQLAlchemy builds them (so
they stay in step with the schema), but running them through its execution
layer costs more than the database spends on them. Here a statement is compiled
once per dialect, its constant parameters bound, and each run goes straight to
the driver. On PostgreSQL several such reads share one round trip (psycopg's
pipeline mode).

A list parameter travels as one array on PostgreSQL (``= ANY(:codes)``) and as
one JSON text on SQLite (``IN (SELECT value FROM json_each(:codes))``), so the
statement text never depends on how many values there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Select

Row = tuple[Any, ...]
Build = Callable[[str], Select[Any]]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, as text for one database, with its constant parameters bound."""

    sql: str
    constants: dict[str, Any]
    lists: frozenset[str]  # parameters that carry a list of values


def in_list(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN (the values of list parameter name)``, with one text for any length."""
    if dialect == "postgresql":
        param: BindParameter[Any] = bindparam(name, value=[], type_=ARRAY(String))
        return column == any_(param)
    values: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(name, "[]"))
    )
    return column.in_(values)


def prepare(build: Build, dialect: str, *, lists: Sequence[str]) -> Statement:
    """Compile ``build(dialect)`` for ``dialect``; ``lists`` name its list parameters."""
    return _compile(build, dialect, tuple(lists))


@cache
def _compile(build: Build, dialect: str, lists: tuple[str, ...]) -> Statement:
    target: Dialect = (
        psycopg.dialect()  # type: ignore[no-untyped-call]
        if dialect == "postgresql"
        else sqlite.dialect(paramstyle="named")
    )
    compiled = build(dialect).compile(dialect=target, compile_kwargs={"render_postcompile": True})
    constants = {k: v for k, v in compiled.params.items() if k not in lists}
    return Statement(compiled.string, constants, frozenset(lists))


def fetch(conn: Connection, *runs: tuple[Statement, dict[str, Any]]) -> list[list[Row]]:
    """Run each statement with its parameters; their rows, in order.

    On PostgreSQL all of them travel together: one round trip for the lot.
    """
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    postgres = conn.dialect.name == "postgresql"
    cursors = []
    try:
        if postgres and len(runs) > 1:
            with dbapi.pipeline():
                for statement, params in runs:
                    cursor = dbapi.cursor()
                    cursors.append(cursor)
                    cursor.execute(statement.sql, _params(statement, params, postgres))
        else:
            for statement, params in runs:
                cursor = dbapi.cursor()
                cursors.append(cursor)
                cursor.execute(statement.sql, _params(statement, params, postgres))
        return [list(cursor.fetchall()) for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def _params(statement: Statement, params: dict[str, Any], postgres: bool) -> dict[str, Any]:
    bound = {**statement.constants, **params}
    if not postgres:
        for name in statement.lists:
            bound[name] = json.dumps(list(bound[name]))
    return bound
