"""An upsert is built from the connection alone and behaves the same on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from stockflow.adapters.database import Database
from stockflow.adapters.tables import skus
from stockflow.adapters.upsert import upsert

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def test_a_second_write_of_one_key_updates_or_keeps_the_row_as_asked(db_url: str) -> None:
    db = Database(db_url)
    row = {"code": "BOLT", "name": "Bolt", "attributes": {}, "created_at": NOW}
    try:
        with db.write() as conn:
            insert = upsert(conn, skus)
            assert isinstance(insert, sqlite.Insert if db.is_sqlite else postgresql.Insert)
            conn.execute(insert.values(row).on_conflict_do_nothing())
            conn.execute(
                upsert(conn, skus).values({**row, "name": "Ignored"}).on_conflict_do_nothing()
            )
            kept = conn.execute(select(skus.c.name)).scalars().all()
            conn.execute(
                upsert(conn, skus)
                .values({**row, "name": "Hex bolt"})
                .on_conflict_do_update(index_elements=["code"], set_={"name": "Hex bolt"})
            )
            updated = conn.execute(select(skus.c.name)).scalars().all()
    finally:
        db.dispose()
    assert kept == ["Bolt"]
    assert updated == ["Hex bolt"]
