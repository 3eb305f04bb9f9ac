"""``stockflow bench``: small real runs whose counts must add up (speed is never asserted)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from nats_server import nats_url
from stockflow.bench.harness import BenchConfig
from stockflow.bench.scenarios import run
from stockflow.cli.app import app


def bench(*args: str) -> dict[str, Any]:
    """Run ``stockflow bench`` with these arguments; the one JSON object it prints."""
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout)  # one object and nothing else
    return figures


HOT_SKU = ["hot-sku", "--clients", "8", "--stock", "40", "--attempts", "200"]


def assert_hot_sku_sold_exactly_the_stock(figures: dict[str, Any]) -> None:
    """40 units, 200 one-unit attempts: 40 accepted, 160 refused, nothing oversold or lost."""
    assert (figures["scenario"], figures["stock"], figures["attempts"]) == ("hot-sku", 40, 200)
    assert figures["clients"] == 8
    assert (figures["accepted"], figures["rejected"], figures["errors"]) == (40, 160, 0)
    assert figures["oversold"] == 0
    assert figures["verify_drift"] == 0
    assert figures["reservations_in_db"] == 40
    assert figures["db_ceiling_per_s"] > 0
    # The ceiling's conditional UPDATE runs every attempt and can take only the stock too.
    assert figures["db_ceiling"]["transactions"] == 200
    assert figures["db_ceiling"]["accepted"] == 40
    # Before the clock: a warm-up sale of another SKU made the same way, 2 units and
    # 8 attempts per client, so both the selling and the refusing paths have run.
    assert figures["warm_up"] == {"attempts": 64, "accepted": 16, "rejected": 48, "errors": 0}


def test_hot_sku_on_sqlite_with_event_loop_callers_never_oversells() -> None:
    """In-process tasks on one event loop (the default) sell exactly the stock on SQLite."""
    figures = bench(*HOT_SKU)
    assert_hot_sku_sold_exactly_the_stock(figures)
    assert (figures["db"], figures["mode"]) == ("sqlite", "in-process")
    assert figures["callers"] == "event-loop tasks"
    assert figures["server_workers"] is None
    assert figures["db_ceiling"]["tool"] == "sqlite3 loop"


def test_hot_sku_on_sqlite_with_thread_callers_never_oversells() -> None:
    """``--threads``: operating-system threads blocking on the library sell exactly the stock."""
    figures = bench(*HOT_SKU, "--threads")
    assert_hot_sku_sold_exactly_the_stock(figures)
    assert (figures["db"], figures["mode"]) == ("sqlite", "in-process")
    assert figures["callers"] == "threads"


@pytest.mark.postgres_only
def test_hot_sku_on_postgresql_over_http_never_oversells(pg_only_url: str) -> None:
    """Through a real ``stockflow serve`` on PostgreSQL: every unit sold once, no HTTP errors."""
    figures = bench(*HOT_SKU, "--db", pg_only_url, "--http")
    assert_hot_sku_sold_exactly_the_stock(figures)
    assert (figures["db"], figures["mode"]) == ("postgresql", "http")
    assert figures["callers"] == "http connections"
    assert figures["server_workers"] == 1
    assert figures["db_ceiling"]["tool"] == "pgbench"


def test_spread_on_sqlite_accounts_for_every_attempt() -> None:
    """Multi-line reservations over many SKUs: every attempt accepted or refused, none oversold."""
    figures = bench(
        "spread",
        *("--skus", "20", "--locations", "2", "--stock", "5"),
        *("--attempts", "100", "--clients", "4"),
    )
    assert (figures["scenario"], figures["db"], figures["mode"]) == (
        "spread",
        "sqlite",
        "in-process",
    )
    assert figures["attempts"] == 100
    assert figures["errors"] == 0
    assert figures["accepted"] + figures["rejected"] + figures["errors"] == 100
    # 20 SKUs x 2 locations x 5 units = 200 units; 100 attempts of 3 units ask for 300.
    assert 0 < figures["accepted"] <= 200 // 3
    assert figures["rejected"] > 0
    assert figures["reservations_in_db"] == figures["accepted"]
    assert figures["oversold"] == 0
    assert figures["verify_drift"] == 0
    assert figures["db_ceiling_per_s"] > 0
    assert figures["warm_up"]["attempts"] == 32
    assert figures["warm_up"]["errors"] == 0


def test_a_flash_sale_of_orders_on_sqlite_sells_exactly_the_stock() -> None:
    """``orders --hot``: one-line orders for one SKU on a channel that refuses backorders."""
    figures = bench("orders", "--hot", "--clients", "4", "--stock", "20", "--attempts", "100")
    assert (figures["scenario"], figures["db"], figures["mode"]) == (
        "orders --hot",
        "sqlite",
        "in-process",
    )
    assert (figures["accepted"], figures["rejected"], figures["errors"]) == (20, 80, 0)
    assert figures["oversold"] == 0
    assert figures["verify_drift"] == 0
    assert figures["orders_per_s"] == figures["accepted_per_s"] > 0
    # The warm-up sold its own SKU the same way: 2 units and 8 attempts per client.
    assert figures["warm_up"] == {"attempts": 32, "accepted": 8, "rejected": 24, "errors": 0}


def test_a_flash_sale_of_orders_over_http_is_signed_in_and_never_limited() -> None:
    """Every request carries the bench user's token, whose rate limit the load never reaches."""
    figures = bench(
        "orders", "--hot", "--http", "--clients", "4", "--stock", "20", "--attempts", "100"
    )
    assert (figures["scenario"], figures["mode"]) == ("orders --hot", "http")
    assert (figures["accepted"], figures["rejected"], figures["errors"]) == (20, 80, 0)
    assert figures["warm_up"] == {"attempts": 32, "accepted": 8, "rejected": 24, "errors": 0}
    assert figures["oversold"] == 0


def test_an_unknown_scenario_is_refused() -> None:
    """A scenario the bench does not know is an error, not an empty report."""
    config = BenchConfig(scenario="nope", db="sqlite", http=False, clients=1, stock=1, attempts=1)
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        run(config)


def assert_every_event_went_out(figures: dict[str, Any], *, nats: bool) -> None:
    """Every order's events were committed, delivered to the endpoint (and NATS), none left."""
    assert (figures["scenario"], figures["mode"]) == ("events", "http")
    assert (figures["accepted"], figures["errors"]) == (60, 0)
    assert figures["oversold"] == 0
    events = figures["events"]
    assert events["committed"] >= 60  # at least the captures' own
    assert events["webhooks_received"] == events["committed"]
    assert events["webhook_latency_ms"]["events"] == events["committed"]
    assert 0 < events["webhook_latency_ms"]["p50"] <= events["webhook_latency_ms"]["p99"]
    assert events["backlog"]["max"] >= events["backlog"]["at_end_of_load"] >= 0
    assert events["drain_seconds"] >= 0
    if nats:
        assert events["nats_received"] == events["committed"]
        assert events["to_nats_per_s"] > 0
        assert 0 < events["nats_latency_ms"]["p50"] <= events["nats_latency_ms"]["p99"]
    else:
        assert events["nats"].startswith("skipped")
        assert events["nats_received"] is None


EVENTS = ["events", "--clients", "4", "--attempts", "60", "--skus", "50"]


def test_events_on_sqlite_reach_the_webhook_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without NATS the bench says so and still measures the webhooks."""
    monkeypatch.delenv("STOCKFLOW_NATS_URL", raising=False)
    figures = bench(*EVENTS)
    assert figures["db"] == "sqlite"
    assert figures["relay"] == "beside the server"
    assert_every_event_went_out(figures, nats=False)


@pytest.mark.postgres_only
def test_events_on_postgresql_reach_nats_and_the_webhook_endpoint(pg_only_url: str) -> None:
    """With NATS: every event published and seen by a subscriber, the stream deleted after."""
    figures = bench(*EVENTS, "--db", pg_only_url, "--nats", nats_url())
    assert figures["db"] == "postgresql"
    assert_every_event_went_out(figures, nats=True)
