"""A set of values of any size as ONE bind parameter: ``column IN (the set)``.

``column.in_(values)`` sends one bind parameter per value; PostgreSQL's wire
protocol refuses more than 65,535 of them in one statement and SQLite more
than 32,766, so a set that comes from user data (the SKUs of a file, the
orders of a fill) would fail once it grows. Every query in stockflow that
matches a column against a set it holds in Python uses ``among`` instead:

- on PostgreSQL the set travels as one array, ``column = ANY(CAST(:p AS type[]))``,
  which the planner answers by index like a short ``IN`` list;
- on SQLite as one JSON text, ``column IN (SELECT value FROM json_each(:p))``,
  which SQLite reads once into a temporary index.

The statement text is the same whatever the set's size, so it is cached
and prepared once. Sets of constants written in the code (a few statuses)
may stay plain ``in_``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, BindParameter, Boolean, ColumnElement, String, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine


class ValueSet(TypeDecorator[list[Any]]):
    """A list of values as one parameter: an array on PostgreSQL, JSON text on SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, item: TypeEngine[Any]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        values = [] if value is None else list(value)
        if dialect.name == "postgresql":
            return values
        return json.dumps([v.isoformat() if isinstance(v, date) else v for v in values])


class Among(ColumnElement[bool]):
    """``column`` is one of the values of a list parameter (see the module's note)."""

    __visit_name__ = "stockflow_among"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate already: no "= 1" after it on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[Any]) -> None:
        self.column = column
        self.values = values

    def self_group(self, against: OperatorType | None = None) -> ColumnElement[Any]:
        """In parentheses inside another expression (``NOT (...)``), bare in a WHERE list."""
        if against is None or against in (operators.and_, operators.or_):
            return self
        return Grouping(self)


def among(
    column: ColumnElement[Any], values: Iterable[Any] | None = None, *, name: str | None = None
) -> ColumnElement[bool]:
    """``column IN values`` with one bind parameter, however many values there are.

    The values are sent in sorted order without repeats. ``name`` names the
    parameter, for a statement compiled once and run with other values (then
    ``values`` may be None and come with each run, as a list).
    """
    listed = None if values is None else sorted(set(values))
    param: BindParameter[Any] = bindparam(
        name, listed, type_=ValueSet(column.type), unique=name is None
    )
    return Among(column, param)


@compiles(Among, "postgresql")
def _any_of_array(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY({compiler.process(element.values, **kw)})"


@compiles(Among)
def _in_json_each(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.values, **kw)}))"
