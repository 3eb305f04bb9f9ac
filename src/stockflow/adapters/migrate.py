"""Bring a database's schema up to date with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from stockflow.adapters.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False))
    return config


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` in one transaction."""
    config = alembic_config(db)
    with db.engine.connect() as conn, _references_checked_at_commit(conn), conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        _refuse_broken_references(conn)


def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to ``revision`` in one transaction (data of later revisions goes)."""
    config = alembic_config(db)
    with db.engine.connect() as conn, _references_checked_at_commit(conn), conn.begin():
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        _refuse_broken_references(conn)


@contextmanager
def _references_checked_at_commit(conn: Connection) -> Iterator[None]:
    """On SQLite, switch foreign keys off for the migration and back on afterwards.

    SQLite changes a table's constraints only by copying it into a new table,
    dropping the old one and renaming the new; with foreign keys enforced, that
    drop fails as soon as other rows point at the table. The pragma has no
    effect inside a transaction, so it is set on the driver's connection before
    BEGIN (SQLite's own recipe for altering tables); ``_refuse_broken_references``
    then checks every reference before the migration commits.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None  # a connection checked out of the pool is always open
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _refuse_broken_references(conn: Connection) -> None:
    """Fail (and so roll back) a SQLite migration that left a row pointing at nothing."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
