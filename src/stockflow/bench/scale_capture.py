"""Order capture on a year of history against capture on an empty database, in the same run.

The ``orders`` bench (over HTTP, with its own same-run pgbench or sqlite3
ceiling) runs in turn on a fresh copy of the loaded database and on a fresh
empty one, ``rounds`` times, so that both meet the machine in the same minutes.
The report keeps every round and compares the medians: of orders a second,
and of each run's rate against its own ceiling (steadier on a shared machine,
since the ceiling moves with it).
"""

from __future__ import annotations

from statistics import median
from typing import Any

from stockflow.bench.databases import copy_of, scratch_database
from stockflow.bench.harness import BenchConfig
from stockflow.bench.order_scenarios import orders_scenario
from stockflow.bench.progress import Steps
from stockflow.bootstrap import Stockflow

FIELDS = (
    "attempts", "accepted", "rejected", "errors", "oversold", "verify_drift", "orders_per_s",
    "p50_ms", "p99_ms", "db_ceiling_per_s", "vs_ceiling",
)  # fmt: skip


def capture_rounds(loaded_url: str, c: BenchConfig, rounds: int, bars: Steps) -> dict[str, Any]:
    """Capture on copies of ``loaded_url`` and on empty databases, in turn; the comparison."""
    runs: dict[str, list[dict[str, Any]]] = {"loaded": [], "empty": []}
    with bars.step("capture orders, loaded and empty in turn", 2 * rounds) as advance:
        for n in range(rounds):
            with copy_of(loaded_url) as url:
                runs["loaded"].append(_capture(url, c, migrate=False))
            advance(2 * n + 1, 2 * rounds)
            with scratch_database(c.db) as url:
                runs["empty"].append(_capture(url, c, migrate=True))
            advance(2 * n + 2, 2 * rounds)
    medians = {
        name: {
            "orders_per_s": median(r["orders_per_s"] for r in found),
            "vs_ceiling": median(r["vs_ceiling"] or 0.0 for r in found),
        }
        for name, found in runs.items()
    }
    rate, base = medians["loaded"]["orders_per_s"], medians["empty"]["orders_per_s"]
    ratio, base_ratio = medians["loaded"]["vs_ceiling"], medians["empty"]["vs_ceiling"]
    return {
        "rounds": rounds,
        "orders_per_round": c.attempts,
        "loaded": runs["loaded"],
        "empty": runs["empty"],
        "median": medians,
        "loaded_vs_empty": round(rate / base, 3) if base else None,
        "loaded_vs_empty_in_ceilings": round(ratio / base_ratio, 3) if base_ratio else None,
    }


def _capture(url: str, c: BenchConfig, *, migrate: bool) -> dict[str, Any]:
    sf = Stockflow.open(url, migrate_schema=migrate)
    try:
        figures = orders_scenario(sf, url, c)
    finally:
        sf.close()
    return {f: figures[f] for f in FIELDS}
