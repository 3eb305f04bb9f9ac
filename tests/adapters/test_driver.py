"""Hot statements on the driver's own cursor: list parameters, bulk writes and their errors.

The stock book and the bulk writer skip SQLAlchemy's execution layer for speed;
these tests hold them to what SQLAlchemy would have done, on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpers import add_sku, setup_places
from stockflow.adapters import bulk
from stockflow.adapters.tables import positions, reservations
from stockflow.bootstrap import Stockflow
from stockflow.stock.book import load_book
from stockflow.stock.rules.catalogue import NewSku
from stockflow.stock.rules.commands import Place, PostMove


def count_reservations(sf: Stockflow) -> int:
    with sf.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def test_a_book_of_many_codes_is_one_statement_for_any_number(sf: Stockflow) -> None:
    """40,000 codes (more than SQLite allows as separate parameters) find the two that exist."""
    setup_places(sf, "WH1")
    for code in ("A", "B"):
        add_sku(sf, code)
    sf.post_move(PostMove("A", 7, "receipt", target=Place("WH1")))
    codes = {f"NOPE-{n}" for n in range(40_000)} | {"A", "B"}
    today = sf.clock().date()
    for lock in (False, True):
        with sf.db.write() as conn:
            book, refs = load_book(conn, codes, today, lock=lock)
        assert sorted(refs) == ["A", "B"]
        assert book.available(refs["A"].id) == 7
        assert book.available(refs["B"].id) == 0


def row(rid: str, created_at: datetime) -> dict[str, object]:
    return {
        "id": rid,
        "owner_ref": None,
        "status": "open",
        "idempotency_key": None,
        "created_at": created_at,
    }


def test_a_duplicate_row_is_sqlalchemys_integrity_error_and_writes_nothing(sf: Stockflow) -> None:
    now = datetime.now(UTC)
    with sf.db.write() as conn:
        bulk.write(conn, bulk.Insert(reservations, [row("r1", now)]))
    with pytest.raises(IntegrityError), sf.db.write() as conn:
        bulk.write(conn, bulk.Insert(reservations, [row("r2", now), row("r1", now)]))
    assert count_reservations(sf) == 1
    # The pool hands out a healthy connection afterwards.
    with sf.db.write() as conn:
        bulk.write(conn, bulk.Insert(reservations, [row("r3", now)]))
    assert count_reservations(sf) == 2


def test_one_connection_goes_on_right_after_failed_statements(sf: Stockflow) -> None:
    """Cursors stay with their connection; one a failure touched is not handed out again.

    The same connection alternates failing and succeeding writes, and reads the
    stock book in between: every answer is the one a fresh connection would give.
    """
    setup_places(sf, "WH1")
    add_sku(sf, "A")
    sf.post_move(PostMove("A", 5, "receipt", target=Place("WH1")))
    now, today = datetime.now(UTC), sf.clock().date()
    with sf.db.engine.connect() as conn:
        for n in range(3):
            with conn.begin():
                bulk.write(conn, bulk.Insert(reservations, [row(f"ok-{n}", now)]))
            with pytest.raises(IntegrityError), conn.begin():
                bulk.write(conn, bulk.Insert(reservations, [row("twice", now), row("twice", now)]))
            with conn.begin():
                book, refs = load_book(conn, {"A", "NOPE"}, today, lock=True)
            assert sorted(refs) == ["A"]
            assert book.available(refs["A"].id) == 5
    assert count_reservations(sf) == 3


def test_a_timestamp_without_a_zone_is_refused_by_the_bulk_writer(sf: Stockflow) -> None:
    with pytest.raises(Exception, match="timezone-aware"), sf.db.write() as conn:
        bulk.write(conn, bulk.Insert(reservations, [row("r1", datetime(2026, 1, 1))]))
    assert count_reservations(sf) == 0


def test_bulk_rows_round_trip_their_values(sf: Stockflow) -> None:
    """Text, nulls and zoned timestamps come back as they went in."""
    when = datetime(2026, 11, 26, 7, 30, 15, 123456, tzinfo=UTC)
    odd = {**row("r-ü", when), "owner_ref": 'line "7" \\ x', "idempotency_key": "k-1"}
    with sf.db.write() as conn:
        bulk.write(conn, bulk.Insert(reservations, [odd, row("r-2", when)]))
    with sf.db.read() as conn:
        got = {
            r.id: (r.owner_ref, r.idempotency_key, r.created_at)
            for r in conn.execute(select(reservations))
        }
    assert got == {"r-ü": ('line "7" \\ x', "k-1", when), "r-2": (None, None, when)}


def test_an_increment_finds_its_rows_by_key_in_a_big_table(pg_only_url: str) -> None:
    """Raising ``allocated`` on a few of 10,000 positions reads those few, not the table."""
    sf = Stockflow.open(pg_only_url)
    try:
        setup_places(sf, "WH1")
        sf.add_skus([NewSku(f"S{n:05d}", f"Item {n}") for n in range(5_000)])
        with sf.db.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO positions (sku_id, location_id, bin_id, lot_code, on_hand, allocated) "
                "SELECT s.id, b.location_id, b.id, '', 5, 0 FROM skus s CROSS JOIN bins b"
            )
        with sf.db.engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("ANALYZE positions")
        with sf.db.read() as conn:
            ids = [int(i) for (i,) in conn.execute(select(positions.c.id).limit(3))]
        step = bulk.Increment(positions, {pid: {"allocated": 2} for pid in ids})
        with sf.db.write() as conn:
            sql, params = bulk._pg_increment(step, "p0_")
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            bulk.write(conn, step)
        assert "Seq Scan on positions" not in plan, plan
        assert "Index Scan using pk_positions on positions" in plan, plan
        with sf.db.read() as conn:
            raised = conn.execute(select(func.sum(positions.c.allocated))).scalar_one()
        assert raised == 2 * len(ids)
    finally:
        sf.close()
