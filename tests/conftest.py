"""Fixtures: every integration test runs on real SQLite and real PostgreSQL.

PostgreSQL comes from ``STOCKFLOW_TEST_POSTGRES_URL`` (a server URL whose user
may create databases; ``scripts/test`` finds or starts one). Each test session
creates its own database and drops it at the end; tests start from empty
tables. Without PostgreSQL its tests are skipped with a warning, except under
``CI=true``, where that is an error.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from stockflow.adapters.database import Database, normalise_url
from stockflow.adapters.migrate import migrate
from stockflow.adapters.tables import metadata
from stockflow.bootstrap import Stockflow

PG_ADMIN_URL = os.environ.get("STOCKFLOW_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    if not PG_ADMIN_URL:
        if os.environ.get("CI") == "true":
            raise pytest.UsageError("CI=true but STOCKFLOW_TEST_POSTGRES_URL is not set")
        warnings.warn(
            "STOCKFLOW_TEST_POSTGRES_URL is not set: PostgreSQL tests are SKIPPED",
            stacklevel=1,
        )


@contextmanager
def _new_postgres() -> Iterator[str]:
    """A PostgreSQL database of its own, with no schema yet, dropped afterwards."""
    if not PG_ADMIN_URL:
        pytest.skip("no PostgreSQL (set STOCKFLOW_TEST_POSTGRES_URL)")
    admin_url = normalise_url(PG_ADMIN_URL)
    name = f"stockflow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped afterwards."""
    with _new_postgres() as url:
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """A migrated PostgreSQL database of one test module's own, for data its tests share."""
    with _new_postgres() as url:
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database without any schema on each backend, for tests of the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stockflow.db'}"
        return
    with _new_postgres() as url:
        yield url


def _empty_postgres(url: str) -> None:
    db = Database(url)
    names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
    with db.write() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("db") / "stockflow.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def pg_only_url(pg_url: str) -> str:
    """An empty PostgreSQL database, for tests whose point is real row-level concurrency."""
    _empty_postgres(pg_url)
    return pg_url


@pytest.fixture
def sf(db_url: str) -> Iterator[Stockflow]:
    """A running stockflow on an empty database."""
    app = Stockflow.open(db_url, migrate_schema=False)
    yield app
    app.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; copying it is much faster than migrating again."""
    path = tmp_path_factory.mktemp("template") / "stockflow.db"
    db = Database(f"sqlite:///{path}")
    migrate(db)
    db.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def new_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Callable[[], str]:
    """A factory of empty, migrated databases on each backend, one per call.

    On SQLite every call copies the template to a new file; on PostgreSQL every
    call empties the session database, so close the previous ``Stockflow`` first.
    """
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("examples")
        numbers = itertools.count()

        def new_sqlite() -> str:
            path = folder / f"stockflow-{next(numbers)}.db"
            shutil.copyfile(sqlite_template, path)
            return f"sqlite:///{path}"

        return new_sqlite
    url: str = request.getfixturevalue("pg_url")

    def new_postgres() -> str:
        _empty_postgres(url)
        return url

    return new_postgres
