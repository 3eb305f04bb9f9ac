"""Exports: every row of a list at once, streamed as CSV or NDJSON, scoped and priced as the list.

An export holds exactly the rows its list holds for the same caller, walked
page by page, in more chunks than one; a caller limited to a site exports
that site's rows only, one who may not read the ledger exports none of it,
one who may not see prices gets those cells empty. On PostgreSQL the rows
come through a server-side cursor; in every case the chunk size changes
nothing in the file.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Row, select, text
from starlette.exceptions import StarletteDeprecationWarning

from helpers import bearer, problem
from scope_shop import capture, open_sites
from stockflow.adapters.database import Database
from stockflow.adapters.exporting import Rows, stream
from stockflow.adapters.paging import MAX_PAGE, Keyset
from stockflow.adapters.tables import skus
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.access import Principal, Role
from stockflow.stock.rules.catalogue import NewSku
from stockflow.stock.rules.commands import Place, PostMove

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

API = "/api/v1"
MANY = 2_345  # SKUs: three chunks of a thousand, and some


@dataclass(frozen=True)
class Shop:
    client: TestClient
    sf: Stockflow
    headers: dict[str, dict[str, str]]

    def export(self, caller: str, what: str, fmt: str = "csv") -> Any:
        return self.client.get(
            f"{API}/exports/{what}", params={"format": fmt}, headers=self.headers[caller]
        )

    def rows(self, caller: str, what: str, fmt: str = "csv") -> list[dict[str, str]]:
        resp = self.export(caller, what, fmt)
        assert resp.status_code == 200, resp.text
        if fmt == "csv":
            assert resp.headers["content-type"] == "text/csv; charset=utf-8"
            assert resp.headers["content-disposition"] == f'attachment; filename="{what}.csv"'
            return list(csv.DictReader(io.StringIO(resp.text)))
        assert resp.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in resp.text.splitlines()]

    def listed(self, caller: str, path: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": MAX_PAGE}
        while True:
            page = self.client.get(f"{API}{path}", params=params, headers=self.headers[caller])
            assert page.status_code == 200, page.text
            found.extend(page.json()["items"])
            if page.json()["next"] is None:
                return found
            params["cursor"] = page.json()["next"]


@pytest.fixture
def shop(sf: Stockflow) -> Iterator[Shop]:
    headers = open_sites(sf)
    sf.access.add_user("mkt-web", Role.MARKETPLACE, scope=["WEB"])
    headers["mkt-web"] = bearer(sf.access.issue_token("mkt-web", "tests").secret)
    price = Decimal("2.50")
    sf.add_skus([NewSku(f"K{n:05d}", f'Item "{n}", boxed', unit_price=price) for n in range(MANY)])
    for n in range(0, MANY, 25):  # a position for every 25th SKU, alternately at HAM and CGN
        site = ("HAM", "CGN")[n % 2]
        sf.post_move(PostMove(f"K{n:05d}", 1 + n % 7, "receipt", target=Place(site, "S-01")))
    for site in ("HAM", "CGN"):
        for _ in range(3):
            capture(sf, site)
    with TestClient(create_app(sf)) as client:
        yield Shop(client, sf, headers)


def test_an_export_holds_every_row_of_its_list_in_csv_and_ndjson(shop: Shop) -> None:
    skus_listed = shop.listed("boss", "/skus")
    assert len(skus_listed) == MANY + 2
    for fmt in ("csv", "ndjson"):
        exported = shop.rows("boss", "skus", fmt)
        assert [r["code"] for r in exported] == [s["code"] for s in skus_listed]
        assert exported[5]["name"] == skus_listed[5]["name"]  # quotes and commas survive
        assert str(exported[5]["unit_price"]) == skus_listed[5]["unit_price"] == "2.5000"
    positions = shop.listed("boss", "/positions")
    keys = [(p["sku"], p["location"], p["bin"]) for p in positions]
    for fmt in ("csv", "ndjson"):
        exported = shop.rows("boss", "positions", fmt)
        assert [(r["sku"], r["location"], r["bin"]) for r in exported] == keys
    atp = shop.listed("boss", "/atp")
    per_location = [(a["sku"], x["location"], x["available"]) for a in atp for x in a["locations"]]
    exported = shop.rows("boss", "atp", "ndjson")
    assert [(r["sku"], r["location"], r["available"]) for r in exported] == per_location
    orders = shop.listed("boss", "/orders")
    lines = [(o["id"], ln["line_no"], ln["sku"]) for o in orders for ln in o["lines"]]
    exported = shop.rows("boss", "orders", "ndjson")
    assert [(r["order_id"], r["line_no"], r["sku"]) for r in exported] == lines
    moves = shop.listed("boss", "/moves")
    exported = shop.rows("boss", "moves")
    assert [int(r["id"]) for r in exported] == sorted(m["id"] for m in moves)  # oldest first
    locations = shop.listed("boss", "/locations")
    assert [r["code"] for r in shop.rows("boss", "locations")] == [x["code"] for x in locations]


def test_an_export_is_scoped_and_priced_as_its_list(shop: Shop) -> None:
    for what, path in (("positions", "/positions"), ("locations", "/locations")):
        mine = shop.rows("tpl-ham", what)
        everyone = shop.rows("boss", what)
        assert 0 < len(mine) < len(everyone)
        assert len(mine) == len(shop.listed("tpl-ham", path))
    assert {r["location"] for r in shop.rows("tpl-ham", "positions")} == {"HAM"}
    assert {r["location"] for r in shop.rows("tpl-ham", "atp")} == {"HAM"}
    moved = {(r["from_location"], r["to_location"]) for r in shop.rows("tpl-ham", "moves")}
    assert all("HAM" in ends for ends in moved)
    web = shop.rows("mkt-web", "orders")
    assert web
    assert {r["channel"] for r in web} == {"WEB"}
    # A 3PL sees no prices: the column is there, its cells are empty.
    assert {r["unit_price"] for r in shop.rows("tpl-ham", "skus")} == {""}
    assert {r["unit_price"] for r in shop.rows("tpl-ham", "skus", "ndjson")} == {None}
    # The ledger names other parties' orders and people: closed to a channel scope, as its list.
    assert problem(shop.export("sales-shop", "moves"), 403)["detail"].endswith("read the ledger")
    problem(shop.client.get(f"{API}/moves", headers=shop.headers["sales-shop"]), 403)
    # A role without the list's permission gets none of it either.
    assert problem(shop.export("mkt-web", "moves"), 403)
    assert problem(shop.export("acme", "positions"), 403)
    assert problem(shop.export("boss", "positions", "xml"), 422)["field"] == "format"


def test_the_chunk_size_changes_nothing_in_the_file(shop: Shop) -> None:
    boss = Principal("boss", Role.ADMIN)
    for what in ("skus", "positions", "atp", "orders", "moves"):
        _, whole = shop.sf.export(what, boss, fmt="csv")
        _, chunked = shop.sf.export(what, boss, fmt="csv", chunk=7)
        assert b"".join(chunked) == b"".join(whole), what


def test_postgresql_reads_an_export_through_a_server_side_cursor(pg_only_url: str) -> None:
    db, now = Database(pg_only_url), datetime.now(UTC)
    try:
        with db.write() as conn:
            conn.execute(
                skus.insert(),
                [
                    {"code": f"S{n:03d}", "name": "x", "attributes": {}, "created_at": now}
                    for n in range(25)
                ],
            )
        cursors: list[int] = []

        def open_cursors(conn: Connection, rows: Sequence[Row[Any]]) -> list[tuple[object, ...]]:
            cursors.append(conn.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one())
            return [(r.code,) for r in rows]

        rows = Rows(select(skus.c.code), Keyset("skus", skus.c.code), open_cursors)
        codes = [r[0] for r in stream(db, rows, chunk=10)]
        assert codes == [f"S{n:03d}" for n in range(25)]
        assert cursors == [1, 1, 1]  # one cursor, fetched ten rows at a time
    finally:
        db.dispose()
