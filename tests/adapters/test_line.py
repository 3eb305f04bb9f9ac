"""A worker's own connections: fresh snapshots, dropped ones replaced, the pool left clean."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Insert, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from stockflow.adapters.database import Line
from stockflow.adapters.tables import skus
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.catalogue import NewSku


def add(code: str, name: str) -> Insert:
    return skus.insert().values(code=code, name=name, attributes={}, created_at=datetime.now(UTC))


def sku_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(skus)).scalar_one())


def test_every_snapshot_sees_what_others_committed_before_it(sf: Stockflow) -> None:
    line = sf.db.line()
    try:
        assert line.snapshot(sku_count) == 0
        sf.add_skus([NewSku("A", "Apple")])
        assert line.snapshot(sku_count) == 1
        line.run(lambda conn: conn.execute(add("B", "Bean")))
        sf.add_skus([NewSku("C", "Cherry")])
        assert line.snapshot(sku_count) == 3
    finally:
        line.close()


def test_a_failed_write_changes_nothing_and_the_line_goes_on(sf: Stockflow) -> None:
    line = sf.db.line()
    try:

        def two_and_a_duplicate(conn: Connection) -> None:
            conn.execute(add("A", "Apple"))
            conn.execute(add("B", "Bean"))
            conn.execute(add("A", "Again"))

        with pytest.raises(IntegrityError):
            line.run(two_and_a_duplicate)
        assert line.snapshot(sku_count) == 0
        line.run(lambda conn: conn.execute(add("A", "Apple")))
        assert line.snapshot(sku_count) == 1
        with pytest.raises(DBAPIError):
            line.snapshot(lambda conn: conn.exec_driver_sql("SELECT * FROM no_such_table").all())
        assert line.snapshot(sku_count) == 1
    finally:
        line.close()


def test_a_line_plans_once_and_gives_its_connections_back_as_it_found_them(
    pg_only_url: str,
) -> None:
    """Generic plans on a line that asks for them; the pool's connections keep the default."""
    sf = Stockflow.open(pg_only_url)
    try:
        setting = "SELECT current_setting('plan_cache_mode')"
        with sf.db.read() as conn:
            default = conn.exec_driver_sql(setting).scalar_one()
        line = sf.db.line(generic_plans=True)
        assert line.run(lambda conn: conn.exec_driver_sql(setting).scalar_one()) == (
            "force_generic_plan"
        )
        assert line.snapshot(lambda conn: conn.exec_driver_sql(setting).scalar_one()) == (
            "force_generic_plan"
        )
        line.close()
        plain = sf.db.line()  # a worker whose statements are not all lookups by key
        assert plain.run(lambda conn: conn.exec_driver_sql(setting).scalar_one()) == "auto"
        plain.close()
        # Every pooled connection, the lines' among them, is back to the default.
        pool = [sf.db.engine.connect() for _ in range(4)]
        try:
            for conn in pool:
                assert conn.exec_driver_sql(setting).scalar_one() == default
                assert conn.exec_driver_sql("SHOW transaction_isolation").scalar_one() == (
                    "read committed"
                )
        finally:
            for conn in pool:
                conn.close()
        with sf.db.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        sf.close()


def backend(line: Line, *, reads: bool) -> int:
    """The server process behind one of the line's connections."""
    ask = "SELECT pg_backend_pid()"
    run = line.snapshot if reads else line.run
    return int(run(lambda conn: conn.exec_driver_sql(ask).scalar_one()))


def drop(sf: Stockflow, *pids: int) -> None:
    """Have the server end these sessions, as a restart or an idle timeout would."""
    with sf.db.write() as conn:
        for pid in pids:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")


def test_a_quiet_line_checks_its_connections_and_replaces_dropped_ones(pg_only_url: str) -> None:
    sf = Stockflow.open(pg_only_url)
    line = sf.db.line(ping_after=0.0)  # every use counts as after a quiet spell
    try:
        writer, reader = backend(line, reads=False), backend(line, reads=True)
        drop(sf, writer, reader)
        line.run(lambda conn: conn.execute(add("A", "Apple")))
        assert line.snapshot(sku_count) == 1
        assert backend(line, reads=False) != writer
        assert backend(line, reads=True) != reader
    finally:
        line.close()
        sf.close()


def test_a_busy_line_whose_connection_was_dropped_fails_once_then_goes_on(
    pg_only_url: str,
) -> None:
    """No check between busy batches: the first use after a drop fails and writes nothing."""
    sf = Stockflow.open(pg_only_url)
    line = sf.db.line(ping_after=3600.0)
    try:
        drop(sf, backend(line, reads=False))
        with pytest.raises(DBAPIError):
            line.run(lambda conn: conn.execute(add("A", "Apple")))
        line.run(lambda conn: conn.execute(add("B", "Bean")))
        assert [code for (code,) in line.snapshot(lambda c: c.execute(select(skus.c.code)))] == [
            "B"
        ]
    finally:
        line.close()
        sf.close()
