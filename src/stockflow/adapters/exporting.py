"""Whole tables out: rows streamed from the database in chunks, written as CSV or NDJSON.

Server memory stays the same whatever the table's size: at most one chunk
of rows and one buffer of text are held at a time.

On PostgreSQL the rows come from one server-side cursor (psycopg's named
cursor, through ``stream_results``) in one snapshot, ``chunk`` rows per
fetch. On SQLite each chunk is its own short read after the last row's key
(``Keyset.walk``): no read transaction stays open for the whole export, so
the write-ahead log can be checkpointed meanwhile.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Select

from stockflow.adapters.database import Database
from stockflow.adapters.paging import Keyset

CHUNK = 1000  # rows per fetch
_FLUSH = 64 * 1024  # bytes written out at a time

Expand = Callable[[Connection, Sequence[Row[Any]]], Iterable[tuple[object, ...]]]
"""Turns one chunk of rows into the exported rows (may read more on the same connection)."""


@dataclass(frozen=True, slots=True)
class Rows:
    """What an export reads: a query, the key order it is walked in, what each chunk becomes."""

    query: Select[Any]
    keyset: Keyset
    expand: Expand


def each(convert: Callable[[Row[Any]], tuple[object, ...]]) -> Expand:
    """An ``Expand`` that turns each row into one exported row by itself."""

    def expand(conn: Connection, rows: Sequence[Row[Any]]) -> Iterable[tuple[object, ...]]:
        return [convert(r) for r in rows]

    return expand


def stream(db: Database, rows: Rows, *, chunk: int = CHUNK) -> Iterator[tuple[object, ...]]:
    """Every row of ``rows.query`` in key order, each chunk expanded into exported rows."""
    query, keyset, expand = rows.query, rows.keyset, rows.expand
    if db.is_sqlite:
        yield from _walked(db, query, keyset, expand, chunk)
        return
    with db.read_engine.connect() as conn:
        # One snapshot for the cursor and for whatever ``expand`` reads beside it.
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            statement = keyset.ordered(query).execution_options(
                stream_results=True, yield_per=chunk
            )
            result = conn.execute(statement)
            for found in result.partitions(chunk):
                yield from expand(conn, found)


def _walked(
    db: Database, query: Select[Any], keyset: Keyset, expand: Expand, chunk: int
) -> Iterator[tuple[object, ...]]:
    """SQLite: a chunk per short read transaction, each after the last row's key."""
    ordered = keyset.ordered(query).limit(chunk)
    statement = ordered
    while True:
        with db.read() as conn:
            rows = conn.execute(statement).all()
            out = list(expand(conn, rows))
        yield from out
        if len(rows) < chunk:
            return
        statement = ordered.where(keyset.after(keyset.key_of(rows[-1])))


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """``rows`` as CSV (RFC 4180, a header line first) in UTF-8, a buffer at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        if buffer.tell() >= _FLUSH:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def ndjson_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """``rows`` as newline-delimited JSON: one object per row, keyed by column."""
    parts: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(
            dict(zip(columns, row, strict=True)), default=_json_value, separators=(",", ":")
        )
        parts.append(line)
        size += len(line) + 1
        if size >= _FLUSH:
            yield ("\n".join(parts) + "\n").encode()
            parts, size = [], 0
    if parts:
        yield ("\n".join(parts) + "\n").encode()


Writer = Callable[[Sequence[str], Iterable[Sequence[object]]], Iterator[bytes]]
FORMATS: dict[str, tuple[str, Writer]] = {
    "csv": ("text/csv; charset=utf-8", csv_text),
    "ndjson": ("application/x-ndjson", ndjson_text),
}
"""Each format's media type and writer."""


def _cell(value: object) -> object:
    """A value as a CSV cell: dates in ISO 8601, booleans as true/false, objects as JSON.

    Looked up by exact type, as every row's every cell passes here: text,
    numbers and money are written as they are.
    """
    convert = _CELLS.get(type(value))
    return value if convert is None else convert(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_json_value)


_CELLS: dict[type, Callable[[Any], object]] = {
    type(None): lambda _: "",
    bool: lambda v: "true" if v else "false",
    date: date.isoformat,
    datetime: datetime.isoformat,
    dict: _json_text,
    list: _json_text,
}


def _json_value(value: object) -> object:
    """Values JSON has no type for: money and coordinates as strings, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
