"""Keyset pagination: every list in a stable order, each page found by where the last one ended.

A ``Keyset`` is an ordering whose columns together are unique (the last one
is a tie-breaker such as a primary key), so two rows never tie and a page
boundary can neither skip nor repeat a row. The next page is the rows
strictly after the last row's key, not the rows after an OFFSET: an index on
the key columns finds it as quickly as the first page, however deep.

A cursor is the last row's key, written as opaque text: base64url of a JSON
array that starts with the keyset's name, so a cursor from one list sent to
another is refused (422 naming ``cursor``) instead of silently misread.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, overload

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    or_,
    select,
    tuple_,
    union_all,
)

from stockflow.errors import InvalidInput

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE = 100
MAX_PAGE = 1000
_NOT_OURS = "is not a cursor this API gave out (send back exactly what `next` was)"


class Page(Sequence[T]):
    """One page of a list: its items in order, and ``next``, the cursor of the page after it.

    ``next`` is None on the last page. A page is the sequence of its items.
    """

    __slots__ = ("items", "next")

    def __init__(self, items: list[T], next: str | None) -> None:
        self.items = items
        self.next = next

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted."""
        return Page([convert(item) for item in self.items], self.next)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Page):
            return self.items == other.items and self.next == other.next
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Page({self.items!r}, next={self.next!r})"


@dataclass(frozen=True, slots=True)
class Key:
    """One column of a keyset and its direction."""

    column: ColumnElement[Any]
    descending: bool = False


class Keyset:
    """An ordering unique over its columns, named for the cursors it gives out."""

    def __init__(self, name: str, *keys: ColumnElement[Any] | Key) -> None:
        self.name = name
        self.keys = tuple(k if isinstance(k, Key) else Key(k) for k in keys)
        self._kinds = tuple(_kind(k.column) for k in self.keys)
        self._labels = tuple(f"page_key_{i}" for i in range(len(self.keys)))

    def ordered(self, query: Select[Any], *, after: str | None = None) -> Select[Any]:
        """``query`` in key order with its key columns added, from just after cursor ``after``."""
        query = query.add_columns(
            *(k.column.label(label) for k, label in zip(self.keys, self._labels, strict=True))
        ).order_by(*(k.column.desc() if k.descending else k.column for k in self.keys))
        if after is not None:
            query = query.where(self.after(self.decode(after)))
        return query

    def walk(
        self, query: Select[Any], read: Callable[[Select[Any]], Sequence[Row[Any]]], *, chunk: int
    ) -> Iterator[Row[Any]]:
        """Every row of ``query`` in key order, ``chunk`` rows per ``read``, each after the last.

        ``read`` runs one statement (in a transaction of its own, if it likes):
        no read lasts longer than a chunk, and no more than a chunk is held.
        """
        ordered = self.ordered(query).limit(chunk)
        rows = read(ordered)
        while True:
            yield from rows
            if len(rows) < chunk:
                return
            rows = read(ordered.where(self.after(self.key_of(rows[-1]))))

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after the row whose key is ``values``.

        One direction throughout is one row-value comparison, which both
        databases answer with a range scan of an index on the key columns.
        Mixed directions are spelt out, led by a bound on the first column.
        """
        pairs = zip(self.keys, values, strict=True)
        bound = [bindparam(None, v, type_=k.column.type) for k, v in pairs]
        columns = [k.column for k in self.keys]
        if len({k.descending for k in self.keys}) == 1:
            left, right = tuple_(*columns), tuple_(*bound)
            return left < right if self.keys[0].descending else left > right
        first = self.keys[0]
        lead = columns[0] <= bound[0] if first.descending else columns[0] >= bound[0]
        return and_(lead, _strictly_after(self.keys, bound))

    def page(
        self, conn: Connection, query: Select[Any], *, after: str | None, limit: int
    ) -> Page[Row[Any]]:
        """Up to ``limit`` rows of ``query`` after cursor ``after``, and the next page's cursor."""
        rows = conn.execute(self.ordered(query, after=after).limit(limit + 1)).all()
        if len(rows) <= limit:
            return Page(list(rows), None)
        return Page(list(rows[:limit]), self.cursor(rows[limit - 1]))

    def page_of_any(
        self, conn: Connection, branches: Sequence[Select[Any]], *, after: str | None, limit: int
    ) -> Page[Row[Any]]:
        """``page`` over the rows of any of ``branches``, queries whose rows never overlap.

        A filter such as "leaving from or arriving at this location" is two
        indexes' worth of rows: each branch reads its next page from its own
        index, and only those few rows are merged, never the whole set.
        """
        parts = [select(self.ordered(b, after=after).limit(limit + 1).subquery()) for b in branches]
        merged = union_all(*parts).subquery()
        outer = (
            select(merged)
            .order_by(
                *(
                    merged.c[label].desc() if k.descending else merged.c[label]
                    for k, label in zip(self.keys, self._labels, strict=True)
                )
            )
            .limit(limit + 1)
        )
        rows = conn.execute(outer).all()
        if len(rows) <= limit:
            return Page(list(rows), None)
        return Page(list(rows[:limit]), self.cursor(rows[limit - 1]))

    def key_of(self, row: Row[Any]) -> tuple[Any, ...]:
        """The key of a row read through ``ordered``."""
        mapping = row._mapping
        return tuple(mapping[label] for label in self._labels)

    def cursor(self, row: Row[Any]) -> str:
        """The cursor that continues after ``row`` (read through ``ordered``)."""
        return self.encode(self.key_of(row))

    def encode(self, values: Sequence[Any]) -> str:
        """The opaque cursor for a key."""
        plain = [self.name, *(v.isoformat() if isinstance(v, date) else v for v in values)]
        text = json.dumps(plain, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """The key a cursor of this keyset stands for; anything else is ``InvalidInput``."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = json.loads(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput(_NOT_OURS, field="cursor") from None
        if not isinstance(plain, list) or len(plain) != len(self.keys) + 1:
            raise InvalidInput(_NOT_OURS, field="cursor")
        if plain[0] != self.name:
            raise InvalidInput(_NOT_OURS, field="cursor")
        return tuple(_value(kind, v) for kind, v in zip(self._kinds, plain[1:], strict=True))


def every(page_after: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a list, page after page: for a caller that means to read it whole."""
    after: str | None = None
    while True:
        page = page_after(after)
        yield from page.items
        if page.next is None:
            return
        after = page.next


def _strictly_after(
    keys: Sequence[Key], bound: Sequence[BindParameter[Any]]
) -> ColumnElement[bool]:
    """(a > x) or (a = x and (b > y or (b = y and ...))), each comparison in its key's direction."""
    key, value = keys[0], bound[0]
    beyond: ColumnElement[bool] = key.column < value if key.descending else key.column > value
    if len(keys) == 1:
        return beyond
    return or_(beyond, and_(key.column == value, _strictly_after(keys[1:], bound[1:])))


def _kind(column: ColumnElement[Any]) -> type:
    """The Python type a key column's values have, to read them back from a cursor."""
    sql_type = column.type
    impl = getattr(sql_type, "impl", sql_type)
    for sql, python in ((DateTime, datetime), (Date, date), (Integer, int), (String, str)):
        if isinstance(impl, sql) or isinstance(sql_type, sql):
            return python
    raise TypeError(f"a keyset column must be text, a number, a date or a time, not {sql_type}")


def _storable(text: str) -> bool:
    """Whether a database can hold ``text``: no NUL, no lone surrogate."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _value(kind: type, value: object) -> Any:
    """A key value from a cursor, or ``InvalidInput`` when it is not of its column's kind."""
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
    elif kind is str and isinstance(value, str) and _storable(value):
        return value
    elif kind is datetime and isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None:
            return at
    elif kind is date and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(_NOT_OURS, field="cursor")
