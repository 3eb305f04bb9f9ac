"""Hot statements compiled once per database and run on the driver's own cursor.

A few reads run for every batch of a flash sale. SQLAlchemy builds them (so
they stay in step with the schema), but running them through its execution
layer costs more than the database spends on them. Here a statement is compiled
once per dialect, its constants written into its text (nothing to convert and
send on each run), and each run goes straight to the driver. On PostgreSQL
they are prepared on first use, and several such reads share one round trip
(psycopg's pipeline mode).

A list parameter travels as one array on PostgreSQL (``= ANY(:codes)``) and as
one JSON text on SQLite (``IN (SELECT value FROM json_each(:codes))``), so the
statement text never depends on how many values there are (``sets.among``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ClauseElement

from stockflow.adapters.sets import among

Row = tuple[Any, ...]
Build = Callable[[str], ClauseElement]

# Hot statements are prepared on the server the first time a connection runs them
# (psycopg would otherwise wait for the fifth run, parsing and planning each time).
_PREPARED = {"prepare": True}
_SPARE_CURSORS = "stockflow.spare_cursors"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, as text for one database, with its constants written in."""

    sql: str
    lists: frozenset[str]  # parameters that carry a list of values


def in_list(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN (the values of list parameter name)``, with one text for any length."""
    del dialect  # the one shared form (``sets.among``) renders itself per database
    return among(column, name=name)


def prepare(
    build: Build, dialect: str, *, lists: Sequence[str], params: Sequence[str] = ()
) -> Statement:
    """Compile ``build(dialect)`` for ``dialect``; ``lists`` name its list parameters.

    ``params`` name its other parameters (a timestamp): every other value is a
    constant written into the text.
    """
    return _compile(build, dialect, tuple(lists), tuple(params))


@cache
def _compile(
    build: Build, dialect: str, lists: tuple[str, ...], params: tuple[str, ...]
) -> Statement:
    target: Dialect = (
        psycopg.dialect()  # type: ignore[no-untyped-call]
        if dialect == "postgresql"
        else sqlite.dialect(paramstyle="named")
    )

    def inline(bind: BindParameter[Any]) -> None:
        if bind.key not in lists and bind.key not in params:
            bind.literal_execute = True  # a constant: written into the text, never sent

    statement = visitors.cloned_traverse(build(dialect), {}, {"bindparam": inline})
    compiled = statement.compile(dialect=target, compile_kwargs={"render_postcompile": True})
    return Statement(compiled.string, frozenset(lists))


def fetch(conn: Connection, *runs: tuple[Statement, dict[str, Any]]) -> list[list[Row]]:
    """Run each statement with its parameters; their rows, in order.

    On PostgreSQL all of them travel together: one round trip for the lot.
    """
    postgres = conn.dialect.name == "postgresql"
    with _cursors(conn, runs[0][0].sql, len(runs)) as (dbapi, cursors):
        pipeline = dbapi.pipeline() if postgres and len(runs) > 1 else contextlib.nullcontext()
        with pipeline:
            for cursor, (statement, params) in zip(cursors, runs, strict=True):
                bound = _params(statement, params, postgres)
                cursor.execute(statement.sql, bound, **_PREPARED if postgres else {})
        return [list(cursor.fetchall()) for cursor in cursors]


def execute_all(conn: Connection, *runs: tuple[Statement, dict[str, Any]]) -> None:
    """Run each statement with its parameters, in order, keeping no rows.

    On PostgreSQL all of them travel together (one round trip), and each
    still starts once the one before it has finished: a statement that waits
    for a lock holds back the ones after it, which then read what committed
    meanwhile.
    """
    postgres = conn.dialect.name == "postgresql"
    with _cursors(conn, runs[0][0].sql, len(runs)) as (dbapi, cursors):
        pipeline = dbapi.pipeline() if postgres and len(runs) > 1 else contextlib.nullcontext()
        with pipeline:
            for cursor, (statement, params) in zip(cursors, runs, strict=True):
                bound = _params(statement, params, postgres)
                cursor.execute(statement.sql, bound, **_PREPARED if postgres else {})


def execute(conn: Connection, sql: str, params: dict[str, Any]) -> None:
    """Run one statement (in the driver's parameter style) that returns nothing to keep."""
    postgres = conn.dialect.name == "postgresql"
    with _cursors(conn, sql, 1) as (_, [cursor]):
        cursor.execute(sql, params, **_PREPARED if postgres else {})


@contextlib.contextmanager
def _cursors(conn: Connection, sql: str, count: int) -> Iterator[tuple[Any, list[Any]]]:
    """The driver connection and ``count`` cursors on it.

    Cursors are kept with the connection between uses (in the pool's record
    of it, which is emptied when the connection is replaced): a fresh psycopg
    cursor looks up how to send each parameter type again, which costs about
    as much as the database spends on a small read. A cursor that took part in
    a failure is closed instead.

    A driver error comes out as SQLAlchemy's own (``IntegrityError``,
    ``OperationalError``...), so retries and messages work as for any other
    statement, and a connection the database dropped is not handed out again.
    """
    fairy = conn.connection
    dbapi = fairy.dbapi_connection
    assert dbapi is not None
    spare: list[Any] = fairy.info.setdefault(_SPARE_CURSORS, [])
    cursors = [spare.pop() if spare else dbapi.cursor() for _ in range(count)]
    try:
        yield dbapi, cursors
    except conn.dialect.loaded_dbapi.Error as exc:
        dropped = conn.dialect.is_disconnect(exc, dbapi, cursors[-1])
        _close(cursors)
        if dropped:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    except BaseException:
        _close(cursors)
        raise
    spare.extend(cursors)


def _close(cursors: list[Any]) -> None:
    for cursor in cursors:
        cursor.close()


def _params(statement: Statement, params: dict[str, Any], postgres: bool) -> dict[str, Any]:
    if postgres:
        return params
    return {k: json.dumps(list(v)) if k in statement.lists else v for k, v in params.items()}
