"""The migrations build exactly the schema the tables declare, on SQLite and on PostgreSQL.

Alembic's comparison covers tables, columns, types, server defaults, keys and
indexes but not CHECK constraints, so those are compared here: every declared
check exists under its name, a list of allowed words holds exactly the declared
words, and on SQLite (which keeps the text as written) every other check reads
exactly as declared. Triggers are outside both, so the ones that keep the
ledger append-only are looked for by name.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, func, inspect, select

from stockflow.adapters.database import Database
from stockflow.adapters.migrate import alembic_config, downgrade, migrate
from stockflow.adapters.tables import metadata
from stockflow.bootstrap import Stockflow
from stockflow.cli.demo import load_demo

QUOTED = re.compile(r"'([^']*)'")
# The triggers that refuse UPDATE and DELETE on stock_moves (I4), per database.
LEDGER_TRIGGERS = {
    "sqlite": {"stock_moves_no_update", "stock_moves_no_delete"},
    "postgresql": {"stock_moves_append_only"},
}


def drift(conn: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the tables: nothing, we hope."""
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def declared_checks() -> dict[str, CheckConstraint]:
    """Every CHECK constraint the tables declare, by its full name."""
    return {
        str(check.name): check
        for table in metadata.sorted_tables
        for check in table.constraints
        if isinstance(check, CheckConstraint)
    }


def checks_in(conn: Connection) -> dict[str, str]:
    """Every CHECK constraint the database holds on the tables, by name: its SQL as reported."""
    inspector = inspect(conn)
    return {
        str(found["name"]): str(found["sqltext"])
        for table in metadata.sorted_tables
        for found in inspector.get_check_constraints(table.name)
    }


def triggers_in(conn: Connection) -> set[str]:
    """The names of the triggers the database holds on its tables."""
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    else:
        found = conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    return set(found.scalars())


def assert_schema_is_the_tables(url: str) -> None:
    """Fail on any difference between the database at ``url`` and the declared tables."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            assert drift(conn) == []
            assert triggers_in(conn) == LEDGER_TRIGGERS[conn.dialect.name]
            found = checks_in(conn)
    finally:
        db.dispose()
    declared = declared_checks()
    assert sorted(found) == sorted(declared)
    for name, check in declared.items():
        if "one_of" in check.info:
            _, allowed = check.info["one_of"]
            assert sorted(QUOTED.findall(found[name])) == sorted(allowed), name
        elif db.is_sqlite:
            assert found[name] == str(check.sqltext), name


def test_migrating_an_empty_database_builds_exactly_the_tables(unmigrated_url: str) -> None:
    db = Database(unmigrated_url)
    migrate(db)
    db.dispose()
    assert_schema_is_the_tables(unmigrated_url)


def test_the_schema_comparison_sees_a_missing_check(unmigrated_url: str) -> None:
    """Stopping one migration short leaves the newest checks out, and the comparison says so."""
    db = Database(unmigrated_url)
    migrate(db, "0004")
    db.dispose()
    with pytest.raises(AssertionError):
        assert_schema_is_the_tables(unmigrated_url)


def test_the_last_migration_can_be_undone_and_done_again(unmigrated_url: str) -> None:
    db = Database(unmigrated_url)
    migrate(db)
    config = alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with db.engine.connect() as conn:
        gone = {"users", "user_scopes", "api_tokens", "sessions", "audit_log"}
        assert not gone & set(inspect(conn).get_table_names())
    migrate(db)
    db.dispose()
    assert_schema_is_the_tables(unmigrated_url)


def row_counts(db: Database) -> dict[str, int]:
    """How many rows each table of the schema holds, of those the database has yet."""
    with db.read() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
            if table.name in present
        }


@pytest.mark.slow
def test_upgrading_a_database_full_of_work_keeps_every_row(unmigrated_url: str) -> None:
    """The new checks go onto tables that already hold orders, shipments, exceptions, moves.

    On SQLite that means copying tables other rows point at (orders, shipments),
    which only works with foreign keys off for the migration and back on after.
    """
    db = Database(unmigrated_url)
    migrate(db)
    sf = Stockflow.open(unmigrated_url, migrate_schema=False)
    load_demo(sf)  # by today's code, which writes today's columns...
    sf.close()
    downgrade(db, "0004")  # ...then back to before the checks, keeping the work
    before = row_counts(db)
    assert all(before[t] > 0 for t in ("orders", "shipments", "exceptions", "stock_moves"))
    migrate(db)
    after = row_counts(db)
    assert {t: after[t] for t in before} == before
    if db.is_sqlite:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    db.dispose()
    assert_schema_is_the_tables(unmigrated_url)
    sf = Stockflow.open(unmigrated_url, migrate_schema=False)
    try:
        assert sf.verify() == []
    finally:
        sf.close()
