"""The benchmark scenarios: ``hot-sku`` (flash sale) and ``spread`` (everyday multi-line load)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from stockflow.bench import ceiling
from stockflow.bench.databases import scratch_database
from stockflow.bench.event_scenario import events_scenario
from stockflow.bench.harness import (
    BenchConfig,
    Workload,
    ceiling_table,
    drive,
    report,
    stock_up,
    warm_up_size,
)
from stockflow.bench.order_scenarios import orders_scenario
from stockflow.bootstrap import Stockflow
from stockflow.stock.rules.commands import Reserve, ReserveLine


def run(config: BenchConfig) -> dict[str, Any]:
    """Run one scenario on a scratch database and return its figures."""
    with scratch_database(config.db) as url:
        sf = Stockflow.open(url)
        try:
            if config.scenario == "hot-sku":
                return _hot_sku(sf, url, config)
            if config.scenario == "spread":
                return _spread(sf, url, config)
            if config.scenario == "orders":
                return orders_scenario(sf, url, config)
            if config.scenario == "events":
                return events_scenario(sf, url, config)
        finally:
            sf.close()
    raise ValueError(f"unknown scenario {config.scenario!r}")


def _hot_sku(sf: Stockflow, url: str, c: BenchConfig) -> dict[str, Any]:
    warm_stock, warm_attempts = warm_up_size(c)
    stock_up(sf, ["HOT", "CEILING"], ["BENCH"], c.stock, warm=["WARM"], warm_qty=warm_stock)
    [ceiling_position] = ceiling_table(sf, "CEILING")
    statement = (
        "UPDATE bench_ceiling SET allocated = allocated + 1 "
        f"WHERE id = {ceiling_position} AND on_hand - allocated >= 1"
    )
    roof = _ceiling(sf, url, c, [statement], {})
    with sf.db.read() as conn:
        roof_accepted = int(
            conn.exec_driver_sql("SELECT allocated FROM bench_ceiling").scalar_one()
        )
    hot = Reserve((ReserveLine("HOT", 1),))
    warm = Reserve((ReserveLine("WARM", 1),))
    warmed, tally = drive(
        sf, url, c,
        _reservations(sf, lambda n: hot, c.attempts),
        warm_up=_reservations(sf, lambda n: warm, warm_attempts),
    )  # fmt: skip
    return report(sf, c, tally, roof, roof_accepted, sku_prefix="HOT", warm_up=warmed)


def _spread(sf: Stockflow, url: str, c: BenchConfig) -> dict[str, Any]:
    codes = [f"S{n:05d}" for n in range(1, c.skus + 1)]
    roof_codes = [f"C{n:05d}" for n in range(1, c.skus + 1)]
    warm_codes = [f"W{n:05d}" for n in range(1, max(c.lines, c.skus // 10) + 1)]
    stock_up(
        sf, codes + roof_codes, [f"L{n}" for n in range(1, c.locations + 1)], c.stock,
        warm=warm_codes, warm_qty=c.stock,
    )  # fmt: skip
    first_roof = ceiling_table(sf, "C")[0]
    # One conditional UPDATE per line, in ascending position order (no deadlocks),
    # on the first location's position of each SKU, which is where FEFO/location
    # order sends the application too.
    lines = [f"\\set s{k} random(0, {c.skus - 1})" for k in range(c.lines)]
    script = "\n".join(lines) + "\nBEGIN;\n"
    picks = [f":s{k}" for k in range(c.lines)]
    for k in range(c.lines):
        script += (
            "UPDATE bench_ceiling SET allocated = allocated + 1 "
            f"WHERE id = {first_roof} + {c.locations} * {_kth(picks, k)} "
            "AND on_hand - allocated >= 1;\n"
        )
    script += "END;\n"
    sqlite_statements = [
        "UPDATE bench_ceiling SET allocated = allocated + 1 "
        f"WHERE id = :base + :locs * ((:i * {7919 * (k + 1)} + {k * 104729}) % :skus) "
        "AND on_hand - allocated >= 1"
        for k in range(c.lines)
    ]
    params = {"base": first_roof, "locs": c.locations, "skus": c.skus}
    roof = _ceiling(sf, url, c, sqlite_statements, params, pg_script=script)
    rng = random.Random(c.seed)
    requests = [
        Reserve(tuple(ReserveLine(code, 1) for code in rng.sample(codes, c.lines)))
        for _ in range(c.attempts)
    ]
    _, warm_attempts = warm_up_size(c)
    warm = [
        Reserve(tuple(ReserveLine(code, 1) for code in rng.sample(warm_codes, c.lines)))
        for _ in range(warm_attempts)
    ]
    warmed, tally = drive(
        sf, url, c,
        _reservations(sf, lambda n: requests[n], c.attempts),
        warm_up=_reservations(sf, lambda n: warm[n], warm_attempts),
    )  # fmt: skip
    return report(sf, c, tally, roof, roof.transactions, sku_prefix="S", warm_up=warmed)


def _kth(picks: list[str], k: int) -> str:
    """The k-th smallest of the picks, as a pgbench expression (lock in ascending order)."""
    if len(picks) == 1:
        return picks[0]
    lo, hi = f"least({', '.join(picks)})", f"greatest({', '.join(picks)})"
    if k == 0:
        return lo
    if k == len(picks) - 1:
        return hi
    if len(picks) == 3:
        return f"({' + '.join(picks)} - {lo} - {hi})"
    return picks[k]


def _ceiling(
    sf: Stockflow,
    url: str,
    c: BenchConfig,
    sqlite_statements: list[str],
    params: dict[str, int],
    *,
    pg_script: str | None = None,
) -> ceiling.Ceiling:
    if sf.db.is_sqlite:
        path = sf.db.url.database or ""
        return ceiling.sqlite_loop(path, sqlite_statements, transactions=c.attempts, params=params)
    script = pg_script or (sqlite_statements[0] + ";\n")
    return ceiling.pgbench(url, script, clients=c.clients, transactions=c.attempts)


def _reservations(sf: Stockflow, request_for: Callable[[int], Reserve], attempts: int) -> Workload:
    def body(n: int) -> dict[str, object]:
        r = request_for(n)
        return {"lines": [{"sku": ln.sku, "qty": ln.qty} for ln in r.lines]}

    return Workload(
        call=lambda n: sf.reserve(request_for(n)),
        call_async=lambda n: sf.reserve_async(request_for(n)),
        body=body,
        path="/api/v1/reservations",
        attempts=attempts,
    )
