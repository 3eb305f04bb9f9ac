"""A set of any size is one bind parameter: more values than a driver takes still work.

PostgreSQL's protocol carries at most 65,535 parameters per statement and
SQLite at most 32,766; ``sets.among`` sends a whole set as one. The tests go
past both limits through the paths that once sent one parameter per value: a
lookup of SKUs by code, and a backorder fill for every SKU of a catalogue.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from helpers import setup_places
from stockflow.adapters.sets import among
from stockflow.adapters.tables import skus
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock import lookup
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn, Place, PostMove

MANY = 70_000  # past PostgreSQL's 65,535 bind parameters, and SQLite's 32,766
NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def test_the_statement_text_is_one_parameter_whatever_the_count() -> None:
    for count in (1, 10, MANY):
        query = select(skus.c.id).where(among(skus.c.code, (f"S{n}" for n in range(count))))
        pg = query.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
        lite = query.compile(dialect=sqlite.dialect())
        assert "skus.code = ANY(%(param_1)s::VARCHAR(64)[])" in str(pg)
        assert "skus.code IN (SELECT value FROM json_each(?))" in str(lite)
        assert len(pg.params) == len(lite.params) == 1


def test_an_empty_set_matches_nothing_and_a_negated_one_everything(sf: Stockflow) -> None:
    setup_places(sf)
    with sf.db.write() as conn:
        conn.execute(
            insert(skus), [{"code": c, "name": c, "attributes": {}, "created_at": NOW}
                           for c in ("A", "B")],
        )  # fmt: skip
        assert conn.execute(select(skus.c.code).where(among(skus.c.code, []))).all() == []
        everything = select(skus.c.code).where(~among(skus.c.code, [])).order_by(skus.c.code)
        assert conn.execute(everything).scalars().all() == ["A", "B"]
        only_b = select(skus.c.code).where(~among(skus.c.code, ["A", "A"]))
        assert conn.execute(only_b).scalars().all() == ["B"]


def test_a_lookup_and_a_backorder_fill_over_more_skus_than_any_parameter_limit(
    sf: Stockflow,
) -> None:
    setup_places(sf)
    with sf.db.write() as conn:
        conn.execute(
            insert(skus),
            [{"code": f"S{n:06d}", "name": "x", "attributes": {}, "created_at": NOW}
             for n in range(MANY)],
        )  # fmt: skip
    codes = [f"S{n:06d}" for n in range(MANY)] + ["NOT-THERE"]
    with sf.db.read() as conn:
        found = lookup.skus_by_code(conn, codes)
        assert len(found) == MANY
        assert len(lookup.sku_codes(conn, (r.id for r in found.values()))) == MANY
    sf.orders.add_channel(NewChannel("WEB", "Web shop"))
    waiting = sf.orders.capture(
        CaptureOrder("WEB", (OrderLineIn("S000007", 2),), ship_to="1 Dam Square, Amsterdam")
    )
    assert waiting.status == "backordered"
    sf.post_move(PostMove("S000007", 5, "receipt", target=Place("WH1")))
    filled = sf.orders.fill_backorders(set(codes))
    assert sf.orders.order(waiting.id).status == "allocated"
    assert filled in ([], [waiting.id])  # the receipt's own reaction may have filled it first
    assert sf.verify() == []
