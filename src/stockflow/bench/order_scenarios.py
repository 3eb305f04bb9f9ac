"""The ``orders`` scenario: order capture end to end, everyday or a flash sale (``--hot``).

The ceiling is the same writes as plain SQL, one transaction per order, in
pgbench: one conditional UPDATE per line (ascending, so no deadlocks), and
only when every line got its unit, the order row and its line rows, into
copies of the order tables; otherwise the transaction rolls back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from stockflow.bench import ceiling
from stockflow.bench.harness import (
    BenchConfig,
    Workload,
    ceiling_table,
    drive,
    report,
    stock_up,
    warm_up_size,
)
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn

SHIP_TO = "1 Bench Street, Testville"


@dataclass(frozen=True, slots=True)
class OrderLoad:
    """A stocked shop, the same-run ceiling, and the orders to capture (and a warm-up)."""

    roof: ceiling.Ceiling
    roof_accepted: int
    work: Workload
    warm_up: Workload


def orders_scenario(sf: Stockflow, url: str, c: BenchConfig) -> dict[str, Any]:
    """Capture orders from many clients; the JSON report, with the same-run ceiling."""
    load = prepare_orders(sf, url, c)
    warmed, tally = drive(sf, url, c, load.work, warm_up=load.warm_up)
    out = report(sf, c, tally, load.roof, load.roof_accepted, sku_prefix="S", warm_up=warmed)
    out["scenario"] = "orders --hot" if c.hot else "orders"
    out["orders_per_s"] = out["accepted_per_s"]
    return out


def prepare_orders(sf: Stockflow, url: str, c: BenchConfig) -> OrderLoad:
    """Stock up, open the bench channel, measure the ceiling; the orders to send."""
    count = 1 if c.hot else c.skus
    lines = 1 if c.hot else c.lines
    codes = [f"S{n:05d}" for n in range(1, count + 1)]
    warm_codes = [f"W{n:05d}" for n in range(1, max(lines, count // 10) + 1)]
    warm_stock, warm_attempts = warm_up_size(c)
    stock_up(
        sf, codes + [f"C{n:05d}" for n in range(1, count + 1)], ["L1"], c.stock,
        warm=warm_codes, warm_qty=warm_stock if c.hot else c.stock,
    )  # fmt: skip
    sf.orders.add_channel(NewChannel("BENCH", "Bench channel", backorder_policy="reject"))
    first = ceiling_table(sf, "C")[0]
    _order_tables(sf)
    roof = _ceiling(sf, url, c, first=first, count=count, lines=lines)
    with sf.db.read() as conn:
        roof_accepted = int(conn.exec_driver_sql("SELECT count(*) FROM bench_orders").scalar_one())
    rng = random.Random(c.seed)

    def orders(prefix: str, skus: list[str], n: int) -> Workload:
        cmds = [
            CaptureOrder(
                channel="BENCH",
                lines=tuple(OrderLineIn(code, 1) for code in rng.sample(skus, lines)),
                ship_to=SHIP_TO,
                external_id=f"{prefix}-{k}",
            )
            for k in range(n)
        ]

        def body(k: int) -> dict[str, object]:
            cmd = cmds[k]
            return {
                "channel": cmd.channel,
                "external_id": cmd.external_id,
                "ship_to": cmd.ship_to,
                "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in cmd.lines],
            }

        return Workload(
            call=lambda k: sf.orders.capture(cmds[k]),
            call_async=lambda k: sf.orders.capture_async(cmds[k]),
            body=body,
            path="/api/v1/orders",
            attempts=n,
        )

    work = orders("B", codes, c.attempts)
    return OrderLoad(roof, roof_accepted, work, orders("W", warm_codes, warm_attempts))


def _order_tables(sf: Stockflow) -> None:
    """Copies of the order tables for the ceiling to write into (same columns, no foreign keys)."""
    with sf.db.write() as conn:
        for name in ("orders", "order_lines"):
            if sf.db.is_sqlite:
                conn.execute(text(f"CREATE TABLE bench_{name} AS SELECT * FROM {name} WHERE 0"))
            else:
                conn.execute(text(f"CREATE TABLE bench_{name} (LIKE {name} INCLUDING ALL)"))


def _ceiling(
    sf: Stockflow, url: str, c: BenchConfig, *, first: int, count: int, lines: int
) -> ceiling.Ceiling:
    if sf.db.is_sqlite:
        return _sqlite_ceiling(sf, c, first=first, count=count, lines=lines)
    script = [f"\\set s{k} random(0, {count - 1})" for k in range(lines)]
    script.append("BEGIN;")
    picks = sorted(range(lines))
    for k in picks:
        script.append(
            f"WITH u AS (UPDATE bench_ceiling SET allocated = allocated + 1 "
            f"WHERE id = {first} + :s{k} AND on_hand - allocated >= 1 RETURNING 1) "
            f"SELECT count(*) AS got{k} FROM u \\gset"
        )
    total = " + ".join(f":got{k}" for k in picks)
    script += [
        f"\\if {total} = {lines}",
        "INSERT INTO bench_orders (id, channel_id, status, value, reservation_id, ship_to, "
        "created_at, updated_at) VALUES (md5(random()::text), 1, 'allocated', 0, 'r', "
        f"'{SHIP_TO}', now(), now());",
        *(
            "INSERT INTO bench_order_lines (order_id, line_no, sku_id, qty, cancelled_qty) "
            f"VALUES (md5(random()::text), {k + 1}, :s{k} + 1, 1, 0);"
            for k in picks
        ),
        "COMMIT;",
        "\\else",
        "ROLLBACK;",
        "\\endif",
    ]
    return ceiling.pgbench(
        url, "\n".join(script) + "\n", clients=c.clients, transactions=c.attempts
    )


def _sqlite_ceiling(
    sf: Stockflow, c: BenchConfig, *, first: int, count: int, lines: int
) -> ceiling.Ceiling:
    statements = [
        "UPDATE bench_ceiling SET allocated = allocated + 1 "
        f"WHERE id = :base + ((:i * {7919 * (k + 1)} + {k * 104729}) % :n) "
        "AND on_hand - allocated >= 1"
        for k in range(lines)
    ]
    statements.append(
        "INSERT INTO bench_orders (id, channel_id, status, value, reservation_id, ship_to, "
        "created_at, updated_at) SELECT hex(randomblob(16)), 1, 'allocated', 0, 'r', 'x', "
        "'2026-01-01', '2026-01-01' WHERE changes() > 0"
    )
    path = sf.db.url.database or ""
    return ceiling.sqlite_loop(
        path, statements, transactions=c.attempts, params={"base": first, "n": count}
    )
