"""``stockflow bench scale`` at a tiny size: every section there, with numbers that add up.

Speed is never asserted; what is checked is that the run loaded exactly what it
generated, measured every list and lookup it found, and that capture, verify,
the database's size, the server's memory and the ceilings came back as numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stockflow.api.app import create_app
from stockflow.bench.api_map import read_map
from stockflow.bench.scale_data import generate, parse_size
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.errors import InvalidInput

TINY = [
    "scale", "--size", "0.001x", "--requests", "8", "--budget", "3",
    "--deep-seconds", "2", "--capture-orders", "40", "--clients", "4",
]  # fmt: skip
# Lists and lookups the data set always has something for.
LISTS = ("/api/v1/skus", "/api/v1/locations", "/api/v1/positions", "/api/v1/atp",
         "/api/v1/orders", "/api/v1/moves", "/api/v1/channels", "/api/v1/locations/{code}/bins",
         "/api/v1/positions?location={location}")  # fmt: skip
LOOKUPS = ("/api/v1/skus/{code}", "/api/v1/atp/{sku}", "/api/v1/orders/{order_id}",
           "/api/v1/positions?sku={sku}", "/api/v1/atp?sku={sku}",
           "/api/v1/reservations/{reservation_id}", "/api/v1/channels/{code}")  # fmt: skip


def scale(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["bench", *TINY, *args])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout)  # one object and nothing else
    return figures


def assert_timed(figures: dict[str, Any]) -> None:
    assert figures["requests"] > 0
    assert figures["ok"] == figures["requests"]
    assert figures["errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["per_s"] > 0


def assert_complete(figures: dict[str, Any], db: str) -> None:
    assert (figures["scenario"], figures["size"], figures["db"]) == ("scale", "0.001x", db)
    # 0.001x of a year: 10 SKUs x 10 locations, 100 orders, 1,000 moves; bins: one a location.
    assert figures["data"] == {
        "skus": 10, "locations": 10, "bins": 10, "positions": 100, "moves": 1000,
        "orders": 100, "order_lines": figures["data"]["order_lines"],
    }  # fmt: skip
    assert figures["data"]["order_lines"] >= 100
    assert figures["loaded"] == figures["data"]
    assert figures["loaded_as_generated"] is True

    imports = figures["imports"]
    rows = {"skus": 10, "locations": 10, "bins": 10, "stock": 100, "moves": 900}
    for kind, count in {**rows, "orders": figures["data"]["order_lines"]}.items():
        assert imports[kind]["rows"] == count, kind
        assert imports[kind]["rows_per_s"] > 0
        assert imports[kind]["ceiling_rows_per_s"] > 0
        assert imports[kind]["vs_ceiling"] > 0
        assert figures["ceiling"]["imports"][kind]["rows"] == count
    assert imports["orders"]["orders"] == 100
    assert sum(imports["orders"]["by_status"].values()) == 100
    assert imports["orders"]["files"] == imports["moves"]["files"] == 12
    assert imports["stock"]["files"] == 10  # a file per location

    for name in LISTS:
        entry = figures["lists"][name]
        assert_timed(entry["first_page"])
        assert entry["deep_page"] is not None or entry["deep_page_skipped"]
    for entry in figures["lists"].values():
        assert_timed(entry["first_page"])
    # 1,000 moves: more than one page, so a deep page was found and measured.
    moves = figures["lists"]["/api/v1/moves"]
    assert moves["paged"] is True
    assert_timed(moves["deep_page"])
    assert moves["deep_page"]["rows_before"] > 0
    assert moves["deep_page"]["bytes_per_answer"] > 100  # a page of rows, not an empty one
    for name in LOOKUPS:
        assert_timed(figures["lookups"][name])
        assert figures["lookups"][name]["values"] > 0
    assert "/api/v1/events/stream" in figures["not_measured"]

    capture = figures["capture"]
    for run in ("loaded", "empty"):
        assert capture[run]["accepted"] == 40
        assert (capture[run]["errors"], capture[run]["oversold"]) == (0, 0)
        assert capture[run]["verify_drift"] == 0
        assert capture[run]["orders_per_s"] > 0
        assert capture[run]["db_ceiling_per_s"] > 0
    assert capture["loaded_vs_empty"] > 0
    assert figures["verify"]["drift"] == 0
    assert figures["verify"]["seconds"] > 0
    assert figures["database"]["bytes"] > 0
    server = figures["server"]
    assert 0 < server["rss_start_mb"] <= server["peak_rss_mb"]
    assert server["relay_catch_up_seconds"] >= 0
    reads = figures["ceiling"]["reads"]
    for kind in ("lookup", "page"):
        assert reads[kind]["queries"] > 0
        assert 0 < reads[kind]["p50_ms"] <= reads[kind]["p99_ms"]
    assert_timed(figures["ceiling"]["http_floor"])


@pytest.mark.slow
def test_scale_on_sqlite_loads_what_it_generated_and_measures_every_section() -> None:
    figures = scale()
    assert_complete(figures, "sqlite")
    assert figures["ceiling"]["imports"]["stock"]["tool"] == "sqlite3 executemany"


@pytest.mark.slow
@pytest.mark.postgres_only
def test_scale_on_postgresql_loads_what_it_generated_and_measures_every_section(
    pg_only_url: str,
) -> None:
    figures = scale("--db", pg_only_url)
    assert_complete(figures, "postgresql")
    assert figures["ceiling"]["imports"]["stock"]["tool"] == "COPY"
    assert figures["ceiling"]["reads"]["lookup"]["tool"] == "pgbench"


@pytest.mark.parametrize(
    ("text", "skus", "orders", "moves"),
    [
        ("1x", 10_000, 100_000, 1_000_000),
        ("10x", 100_000, 1_000_000, 10_000_000),
        ("0.1X", 1_000, 10_000, 100_000),
        ("0.5", 5_000, 50_000, 500_000),
    ],
)
def test_a_size_is_a_multiple_of_a_year(text: str, skus: int, orders: int, moves: int) -> None:
    size = parse_size(text)
    assert (size.skus, size.locations, size.orders, size.moves) == (skus, 10, orders, moves)


@pytest.mark.parametrize("text", ["0x", "-1x", "big", "1000x", ""])
def test_a_size_that_is_not_a_multiple_of_a_year_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="multiple of a year") as caught:
        parse_size(text)
    assert caught.value.field == "size"


def test_the_command_refuses_a_size_it_cannot_read() -> None:
    result = CliRunner().invoke(app, ["bench", "scale", "--size", "lots"])
    assert result.exit_code == 2
    assert "multiple of a year" in result.output


def test_the_bench_finds_lists_and_lookups_in_the_openapi_document(tmp_path: Path) -> None:
    """Lists page or not, lookups take a path parameter; what is neither is named with why."""
    sf = Stockflow.open(f"sqlite:///{tmp_path / 'spec.db'}")
    try:
        api = read_map(create_app(sf).openapi())
    finally:
        sf.close()
    lists = {e.path: e for e in api.lists}
    lookups = {e.path for e in api.lookups}
    orders = lists["/api/v1/orders"]
    assert (orders.items_key, orders.next_key, orders.cursor_param) == ("items", "next", "cursor")
    assert (orders.limit_default, orders.limit_max) == (100, 1000)
    events = lists["/api/v1/events"]
    assert (events.items_key, events.cursor_param) == ("events", "after")
    bins = lists["/api/v1/locations/{code}/bins"]
    assert bins.path_params == ("code",)
    for path in ("/api/v1/skus", "/api/v1/moves", "/api/v1/positions", "/api/v1/atp"):
        assert path in lists
    assert {"/api/v1/orders/{order_id}", "/api/v1/atp/{sku}", "/api/v1/skus/{code}"} <= lookups
    assert "/api/v1/orders/{order_id}" not in lists  # an order has lines, but is one order
    assert api.ignored["/api/v1/events/stream"] == "answers no JSON"
    assert api.ignored["/api/v1/health"] == "neither a list nor a lookup by path parameter"


def test_a_seed_always_gives_the_same_files_holding_what_they_claim(tmp_path: Path) -> None:
    size = parse_size("0.002x")
    first = generate(tmp_path / "a", size, seed=7)
    second = generate(tmp_path / "b", size, seed=7)
    files = sorted(p.name for p in first.folder.iterdir())
    assert files == sorted(p.name for p in second.folder.iterdir())
    for name in files:
        assert (first.folder / name).read_bytes() == (second.folder / name).read_bytes(), name

    def rows(*paths: Path) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for path in paths:
            with path.open(newline="", encoding="utf-8") as f:
                out += list(csv.DictReader(f))
        return out

    counts = first.counts()
    assert len(rows(first.skus)) == counts["skus"] == 20
    assert len(rows(first.locations)) == counts["locations"] == 10
    assert len(rows(first.bins)) == counts["bins"]
    assert len(rows(*first.stock_files)) == counts["positions"] == 200
    assert len(rows(*first.stock_files)) + len(rows(*first.move_files)) == counts["moves"] == 2000
    lines = rows(*first.order_files)
    assert len(lines) == counts["order_lines"]
    assert len({line["external_id"] for line in lines}) == counts["orders"] == 200
    # Never more taken out of a position than it holds, before any order could hold it.
    held: dict[tuple[str, str], int] = {}
    for row in rows(*first.stock_files):
        held[row["sku"], row["location"]] = int(row["qty"])
    for row in rows(*first.move_files):
        sign = -1 if row["kind"] == "adjustment out" else 1
        held[row["sku"], row["location"]] += sign * int(row["qty"])
        assert held[row["sku"], row["location"]] >= 0
