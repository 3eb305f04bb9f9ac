"""``stockflow bench scale``: a year's data (or a multiple), loaded and read as a real team would.

One run, on a scratch database:

1. generate the data set as CSV files (``bench.scale_data``) and load it
   through the import services and the ledger (``bench.scale_load``),
   timing each kind; check that the database holds what was generated;
2. ``ANALYZE``, as after any bulk load; measure the import ceiling (the same
   files with no application code), time ``verify``, weigh the database;
3. start ``stockflow serve``, let its relay catch up with the events the
   load wrote, then measure every list and lookup the OpenAPI document names
   (``bench.reads``) under concurrent clients, and the server's memory;
4. run the ``orders`` bench over HTTP on the loaded database and on an empty
   one, one after the other, so capture on a year of history is a ratio.

Progress goes to stderr; the JSON report is the only thing on stdout.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stockflow.adapters.database import Database
from stockflow.bench.api_map import read_map
from stockflow.bench.databases import scratch_database
from stockflow.bench.event_scenario import wait_drained
from stockflow.bench.harness import BenchConfig, bench_token
from stockflow.bench.load import Server
from stockflow.bench.order_scenarios import orders_scenario
from stockflow.bench.progress import Steps, steps
from stockflow.bench.reads import ReadConfig, Reader
from stockflow.bench.samples import Samples
from stockflow.bench.scale_ceiling import database_bytes, import_ceiling, read_ceiling
from stockflow.bench.scale_data import DataSet, generate, parse_size
from stockflow.bench.scale_load import YearClock, load, loaded_counts, now_utc
from stockflow.bootstrap import Stockflow

READS_USER = "bench-reads"
CAPTURE_STOCK = 100  # units per position of the orders bench's shop
CAPTURE_SKUS = 1000


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """What ``stockflow bench scale`` was asked for."""

    size: str = "1x"
    db: str = "sqlite"
    clients: int = 8
    requests: int = 400  # per list page or lookup
    budget_s: float = 20.0  # per list page or lookup, at most
    deep_s: float = 20.0  # walking a list to find a deep page, at most
    capture_orders: int = 2000
    seed: int = 1
    quiet: bool = False


def run_scale(c: ScaleConfig) -> dict[str, Any]:
    """Generate, load, read and capture; the JSON report."""
    size = parse_size(c.size)
    started = time.perf_counter()
    out: dict[str, Any] = {"scenario": "scale", "size": size.label, "clients": c.clients}
    with steps(quiet=c.quiet) as bars:
        with (
            tempfile.TemporaryDirectory(prefix="stockflow-scale-") as tmp,
            scratch_database(c.db) as url,
        ):
            with bars.step("generate data"):
                t = time.perf_counter()
                data = generate(Path(tmp), size, seed=c.seed)
                out["generate_seconds"] = round(time.perf_counter() - t, 2)
            _load_and_weigh(url, data, c, out, bars)
            _reads(url, c, out, bars)
            with bars.step("capture orders on the loaded database"):
                loaded = _capture(url, c)
        with bars.step("capture orders on an empty database"):
            empty = _capture_empty(c)
    out["capture"] = _capture_report(loaded, empty)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _load_and_weigh(
    url: str, data: DataSet, c: ScaleConfig, out: dict[str, Any], bars: Steps
) -> None:
    clock = YearClock(now_utc())
    sf = Stockflow.open(url, clock=clock)
    try:
        out["db"] = sf.db.dialect
        out["data"] = data.counts()
        t = time.perf_counter()
        kinds = load(sf, data, clock, bars)
        out["load_seconds"] = round(time.perf_counter() - t, 1)
        out["loaded"] = loaded_counts(sf)
        out["loaded_as_generated"] = out["loaded"] == out["data"]
        with bars.step("analyze, import ceiling, verify"):
            _analyze(sf)
            roof = import_ceiling(sf, data)
            t = time.perf_counter()
            drift = sf.verify()
            out["verify"] = {"seconds": round(time.perf_counter() - t, 3), "drift": len(drift)}
        out["imports"] = {k: _with_ratio(v.report(), roof[k]) for k, v in kinds.items()}
        out["ceiling"] = {"imports": roof}
        size = database_bytes(sf)
        out["database"] = {"bytes": size, "mb": round(size / 2**20, 1)}
        with bars.step("read ceiling"):
            out["ceiling"]["reads"] = read_ceiling(
                sf, url, clients=c.clients, queries=max(c.requests, 1000)
            )
    finally:
        sf.close()


def _with_ratio(figures: dict[str, Any], roof: dict[str, Any]) -> dict[str, Any]:
    rate, ceiling = figures["rows_per_s"], roof["rows_per_s"]
    return {
        **figures,
        "ceiling_rows_per_s": ceiling,
        "vs_ceiling": round(rate / ceiling, 4) if rate and ceiling else None,
    }


def _analyze(sf: Stockflow) -> None:
    """Give the planner statistics, as an operator does after a bulk load."""
    with sf.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _reads(url: str, c: ScaleConfig, out: dict[str, Any], bars: Steps) -> None:
    sf = Stockflow.open(url, migrate_schema=False)  # on the real clock: the token is for today
    try:
        token = bench_token(sf, user=READS_USER)
    finally:
        sf.close()
    server = Server(url)
    db = Database(url)
    try:
        memory = {"start": server.memory_kb()}
        with bars.step("relay catches up with the load's events"):
            caught_up = wait_drained(db, within=600 + 600 * parse_size(c.size).factor)
        memory["before_reads"] = server.memory_kb()
        spec = httpx.get(f"{server.base_url}/api/v1/openapi.json", timeout=60).json()
        reader = Reader(
            server.base_url, token, read_map(spec), Samples(db, seed=c.seed),
            ReadConfig(c.clients, c.requests, c.budget_s, c.deep_s),
        )  # fmt: skip
        try:
            out["lists"], out["lookups"] = reader.run(bars)
            floor = reader.measure(lambda _n: "/api/v1/health")
            what = "GET /api/v1/health: the server and one SELECT 1"
            out["ceiling"]["http_floor"] = {"what": what, **floor}
        finally:
            reader.close()
        out["not_measured"] = dict(sorted(reader.skipped.items()))
        memory["end"] = server.memory_kb()
    finally:
        server.stop()
        db.dispose()
    _ratios(out)
    out["server"] = {
        "workers": 1,
        "relay_catch_up_seconds": round(caught_up, 1),
        "rss_start_mb": _mb(memory["start"], "VmRSS"),
        "rss_before_reads_mb": _mb(memory["before_reads"], "VmRSS"),
        "rss_end_mb": _mb(memory["end"], "VmRSS"),
        "peak_rss_mb": _mb(memory["end"], "VmHWM"),
    }


def _mb(found: dict[str, int] | None, name: str) -> float | None:
    return round(found[name] / 1024, 1) if found and name in found else None


def _ratios(out: dict[str, Any]) -> None:
    """Each read's p50 against the bare database's for the same kind of read."""
    reads = out["ceiling"]["reads"]
    for entry in out["lookups"].values():
        entry["p50_vs_ceiling"] = _ratio(entry["p50_ms"], reads["lookup"]["p50_ms"])
    for entry in out["lists"].values():
        for part in ("first_page", "deep_page"):
            if entry.get(part):
                entry[part]["p50_vs_ceiling"] = _ratio(
                    entry[part]["p50_ms"], reads["page"]["p50_ms"]
                )


def _ratio(value: float, ceiling: float) -> float | None:
    return round(value / ceiling, 1) if ceiling else None


def _capture_config(c: ScaleConfig) -> BenchConfig:
    return BenchConfig(
        scenario="orders", db=c.db, http=True, clients=c.clients, stock=CAPTURE_STOCK,
        attempts=c.capture_orders, skus=CAPTURE_SKUS, seed=c.seed,
    )  # fmt: skip


def _capture(url: str, c: ScaleConfig) -> dict[str, Any]:
    sf = Stockflow.open(url, migrate_schema=False)
    try:
        return orders_scenario(sf, url, _capture_config(c))
    finally:
        sf.close()


def _capture_empty(c: ScaleConfig) -> dict[str, Any]:
    with scratch_database(c.db) as url:
        sf = Stockflow.open(url)
        try:
            return orders_scenario(sf, url, _capture_config(c))
        finally:
            sf.close()


_CAPTURE_FIELDS = (
    "attempts", "accepted", "rejected", "errors", "oversold", "verify_drift", "orders_per_s",
    "p50_ms", "p99_ms", "db_ceiling_per_s", "vs_ceiling",
)  # fmt: skip


def _capture_report(loaded: dict[str, Any], empty: dict[str, Any]) -> dict[str, Any]:
    pick = {
        k: {f: r[f] for f in _CAPTURE_FIELDS} for k, r in (("loaded", loaded), ("empty", empty))
    }
    rate, base = loaded["orders_per_s"], empty["orders_per_s"]
    ratio, base_ratio = loaded["vs_ceiling"], empty["vs_ceiling"]
    return {
        **pick,
        "loaded_vs_empty": round(rate / base, 3) if base else None,
        "loaded_vs_empty_in_ceilings": round(ratio / base_ratio, 3)
        if ratio and base_ratio
        else None,
    }
