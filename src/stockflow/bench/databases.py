"""A throw-away database for one benchmark run, on SQLite or a PostgreSQL server."""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from stockflow.adapters.database import normalise_url


@contextmanager
def scratch_database(target: str) -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards.

    ``target`` is ``sqlite`` (a temporary file) or a PostgreSQL URL whose user may
    create databases; the benchmark never writes into the database named there.
    """
    if target == "sqlite" or target.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="stockflow-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = normalise_url(target)
    name = f"stockflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def copy_of(url: str) -> Iterator[str]:
    """Yield the URL of a copy of the database at ``url``; drop the copy afterwards.

    Nothing may be connected to the original meanwhile (PostgreSQL copies it as a
    template). On SQLite the copy is made with SQLite's own backup.
    """
    source = make_url(url)
    if source.get_backend_name() == "sqlite":
        original = Path(source.database or "")
        target = original.with_name(f"{original.stem}-{uuid.uuid4().hex[:8]}.db")
        with sqlite3.connect(original) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        try:
            yield f"sqlite:///{target}"
        finally:
            for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
                path.unlink(missing_ok=True)
        return
    name = f"stockflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
