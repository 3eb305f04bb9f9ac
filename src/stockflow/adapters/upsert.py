"""INSERT ... ON CONFLICT, built for whichever database a connection is on."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that takes ``on_conflict_do_nothing`` / ``on_conflict_do_update``.

    Both databases speak ON CONFLICT, but SQLAlchemy builds it per dialect.
    Taking the dialect from the connection lets a use case that only inserts
    or updates in place work with the transaction it was handed, and nothing
    else; PostgreSQL-compatible databases get the PostgreSQL form.
    """
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)
