"""What every benchmark scenario shares: configuration, stocking up, the clock, the report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, text

from stockflow.adapters.tables import allocations, positions, skus
from stockflow.bench import ceiling
from stockflow.bench.load import (
    Attempt,
    Server,
    Tally,
    hammer,
    hammer_async,
    hammer_http,
    library_attempt,
)
from stockflow.bootstrap import Stockflow
from stockflow.runtime import settle_heap
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.access import Role
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.commands import Place, PostMove

BENCH_USER = "bench"
BENCH_RATE_LIMIT = 1_000_000  # requests a second: the most a token may have, never reached


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What to run, where and how hard."""

    scenario: str
    db: str
    http: bool
    clients: int
    stock: int
    attempts: int
    skus: int = 1000
    locations: int = 4
    lines: int = 3
    seed: int = 1
    server_workers: int = 1
    hot: bool = False
    threads: bool = False  # in-process callers as OS threads instead of event-loop tasks
    nats: str | None = None  # events: the NATS server the relay publishes to (None: none)


@dataclass(frozen=True, slots=True)
class Workload:
    """What the clients ask for: attempt ``n`` as a library call, an awaitable, an HTTP body."""

    call: Callable[[int], object]
    call_async: Callable[[int], Awaitable[object]]
    body: Callable[[int], dict[str, object]]
    path: str
    attempts: int


def warm_up_size(c: BenchConfig) -> tuple[int, int]:
    """Stock and attempts of the warm-up sale: enough for every path to run a few times."""
    return 2 * c.clients, 8 * c.clients


def stock_up(
    sf: Stockflow,
    codes: list[str],
    locations: list[str],
    qty: int,
    *,
    warm: Sequence[str] = (),
    warm_qty: int = 0,
) -> None:
    """Give every SKU ``qty`` units (each of ``warm``: ``warm_qty``) at every location."""
    sf.add_locations([NewLocation(code, f"Bench {code}") for code in locations])
    sf.add_skus([NewSku(code, f"Bench item {code}") for code in [*codes, *warm]])
    now = sf.clock()
    stock = [(code, qty) for code in codes] + [(code, warm_qty) for code in warm]
    receipts = [
        PostMove(code, n, "receipt", target=Place(loc)) for code, n in stock for loc in locations
    ]
    sf.db.run(lambda conn: post_moves(conn, receipts, now=now))
    # A running database has planner statistics; tables just filled must be told.
    # (Not the empty reservation tables: "analysed and empty" would make the
    # planner pick sequential scans that go stale within the run.)
    with sf.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "ANALYZE skus" if sf.db.is_sqlite else "ANALYZE skus, locations, bins, positions"
        )


def ceiling_table(sf: Stockflow, prefix: str) -> list[int]:
    """Copy the positions of the ceiling SKUs into ``bench_ceiling``; return their ids.

    The plain-SQL ceiling writes there: same row shape and primary key as
    ``positions``, but no application invariants for it to break.
    """
    with sf.db.write() as conn:
        conn.execute(
            text(
                "CREATE TABLE bench_ceiling AS SELECT p.* FROM positions p "
                "JOIN skus s ON s.id = p.sku_id WHERE s.code LIKE :pattern"
            ),
            {"pattern": f"{prefix}%"},
        )
        if not sf.db.is_sqlite:
            conn.exec_driver_sql("ALTER TABLE bench_ceiling ADD PRIMARY KEY (id)")
        else:
            conn.exec_driver_sql("CREATE UNIQUE INDEX bench_ceiling_id ON bench_ceiling (id)")
    return _position_ids(sf, prefix)


def _position_ids(sf: Stockflow, prefix: str) -> list[int]:
    with sf.db.read() as conn:
        rows = conn.execute(
            select(positions.c.id)
            .join(skus, skus.c.id == positions.c.sku_id)
            .where(skus.c.code.like(f"{prefix}%"))
            .order_by(positions.c.id)
        )
        return [int(r.id) for r in rows]


def drive(
    sf: Stockflow, url: str, c: BenchConfig, work: Workload, *, warm_up: Workload
) -> tuple[Tally, Tally]:
    """Run ``warm_up``, then ``work`` against the clock; the tallies of both.

    In-process callers are tasks on one event loop awaiting ``call_async``, or
    with ``threads`` operating-system threads blocking on ``call``; with
    ``http`` they are connections to a real server. The warm-up is a smaller
    sale of other SKUs made the same way, so that the clock runs on a system
    like a server that has been up for a while: connections open, statements
    planned, the database's caches filled.
    """
    if c.http:
        token = bench_token(sf)
        sf.desk.close()  # the server has its own desks; keep this process out of the way
        sf.orders.close()
        server = Server(url, workers=c.server_workers)

        def over_http(w: Workload) -> Tally:
            return hammer_http(
                server.base_url, w.body, clients=c.clients, attempts=w.attempts, path=w.path,
                token=token,
            )  # fmt: skip

        try:
            return over_http(warm_up), over_http(work)
        finally:
            server.stop()

    def in_process(w: Workload) -> Tally:
        if c.threads:
            attempt: Attempt = library_attempt(w.call)
            return hammer(lambda: attempt, clients=c.clients, attempts=w.attempts)
        return hammer_async(w.call_async, clients=c.clients, attempts=w.attempts)

    warm = in_process(warm_up)
    settle_heap()  # as the server does once it has started
    return warm, in_process(work)


def bench_token(sf: Stockflow, *, user: str = BENCH_USER) -> str:
    """An API token for the clients: an admin's, with a rate limit the load never reaches.

    It is made before the server starts, so the server's first look-up finds it.
    """
    sf.access.add_user(user, Role.ADMIN)
    issued = sf.access.issue_token(user, "bench load", days=1, rate_limit=BENCH_RATE_LIMIT)
    return issued.secret


def report(
    sf: Stockflow,
    c: BenchConfig,
    tally: Tally,
    roof: ceiling.Ceiling,
    roof_accepted: int,
    *,
    sku_prefix: str,
    warm_up: Tally,
) -> dict[str, Any]:
    with sf.db.read() as conn:
        excess = positions.c.allocated - positions.c.on_hand
        oversold = conn.execute(
            select(func.coalesce(func.sum(case((excess > 0, excess), else_=0)), 0))
        ).scalar_one()
        held = conn.execute(
            select(func.count(func.distinct(allocations.c.reservation_id)))
            .join(positions, positions.c.id == allocations.c.position_id)
            .join(skus, skus.c.id == positions.c.sku_id)
            .where(skus.c.code.like(f"{sku_prefix}%"))
        ).scalar_one()
    drift = sf.verify()
    seconds = tally.seconds
    accepted_per_s = tally.accepted / seconds if seconds else 0.0
    ceiling_per_s = roof_accepted / roof.seconds if roof.seconds else 0.0
    return {
        "scenario": c.scenario,
        "db": sf.db.dialect,
        "mode": "http" if c.http else "in-process",
        "callers": _callers(c),
        "clients": c.clients,
        "server_workers": c.server_workers if c.http else None,
        "stock": c.stock,
        "attempts": c.attempts,
        "accepted": tally.accepted,
        "rejected": tally.rejected,
        "errors": tally.errors,
        "oversold": int(oversold),
        "reservations_in_db": int(held),
        "verify_drift": len(drift),
        "seconds": round(seconds, 3),
        "accepted_per_s": round(accepted_per_s, 1),
        "attempts_per_s": round(c.attempts / seconds, 1) if seconds else 0.0,
        "p50_ms": round(tally.percentile(50), 2),
        "p99_ms": round(tally.percentile(99), 2),
        "db_ceiling_per_s": round(ceiling_per_s, 1),
        "db_ceiling": {
            "tool": roof.tool,
            "transactions": roof.transactions,
            "accepted": roof_accepted,
            "seconds": round(roof.seconds, 3),
        },
        "vs_ceiling": round(accepted_per_s / ceiling_per_s, 2) if ceiling_per_s else None,
        "warm_up": {
            "attempts": warm_up.accepted + warm_up.rejected + warm_up.errors,
            "accepted": warm_up.accepted,
            "rejected": warm_up.rejected,
            "errors": warm_up.errors,
        },
    }


def _callers(c: BenchConfig) -> str:
    if c.http:
        return "http connections"
    return "threads" if c.threads else "event-loop tasks"
