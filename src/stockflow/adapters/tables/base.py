"""What every table module shares: the one MetaData, its naming convention, common column types."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, MetaData, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Constraint names come from the convention, so a migration can name what it
# drops or alters on both databases without asking the database first.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both databases (SQLite hands back naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# "No lot" is the empty lot code rather than NULL, so that it takes part in unique
# keys. Spelled as SQL because Alembic reads a bare "" default as differing from
# the '' SQLite reports, and the schema test would see drift that is not there.
NO_LOT = text("''")

# SQLite only gives autoincrement to INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


# A word is all a status, kind or role may be; anything else would need quoting in the SQL.
_WORD = re.compile(r"[a-z][a-z0-9_]*")


def one_of(column: str, values: Iterable[str], *, name: str | None = None) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``values``, named after the column unless ``name``.

    The database then refuses a status, kind or role that no lifecycle knows,
    whoever writes it. The values are listed at the table rather than taken from
    the rules' enums because adapters sit below the features and the stock core;
    ``tests/adapters/test_tables.py`` holds every list equal to its enum, and the
    constraint keeps the column and values in ``info["one_of"]`` for that test.
    """
    allowed = tuple(values)
    odd = [v for v in allowed if not _WORD.fullmatch(v)]
    if not allowed or odd:
        raise ValueError(f"{column}: allowed values must be plain lower-case words, not {odd}")
    listed = ", ".join(f"'{value}'" for value in allowed)
    return CheckConstraint(
        f"{column} IN ({listed})", name=name or column, info={"one_of": (column, allowed)}
    )
