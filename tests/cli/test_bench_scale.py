"""``stockflow bench scale`` at a tiny size: every section there, with numbers that add up.

Speed is never asserted; what is checked is that the run loaded exactly what it
generated, measured every list and lookup it found, and that capture, verify,
the database's size, the server's memory and the ceilings came back as numbers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from stockflow.bench.scale_data import parse_size
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
