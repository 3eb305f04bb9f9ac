"""``stockflow bench``: one scenario, one JSON object on stdout."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stockflow.bench.harness import BenchConfig
from stockflow.bench.scenarios import run

NatsOption = Annotated[
    str | None,
    typer.Option(
        "--nats", help="events: NATS server the relay publishes to (default: STOCKFLOW_NATS_URL)"
    ),
]


def bench(
    scenario: Annotated[str, typer.Argument(help="hot-sku, spread, orders or events")] = "hot-sku",
    db: Annotated[
        str,
        typer.Option(
            "--db", help="'sqlite' or a PostgreSQL server URL (a scratch database is made)"
        ),
    ] = "sqlite",
    http: Annotated[
        bool, typer.Option("--http", help="Go through a real server on 127.0.0.1")
    ] = False,
    nats: NatsOption = None,
    clients: Annotated[int, typer.Option(min=1, max=512, help="Concurrent clients")] = 32,
    stock: Annotated[
        int, typer.Option(min=0, help="Units per position (0: 1,000 for hot-sku, 100 for spread)")
    ] = 0,
    attempts: Annotated[
        int, typer.Option(min=0, help="Attempts in all (0: 2,000 orders, else 5,000)")
    ] = 0,
    skus: Annotated[int, typer.Option(min=3, help="spread: SKUs")] = 1000,
    locations: Annotated[int, typer.Option(min=1, help="spread: locations")] = 4,
    hot: Annotated[
        bool, typer.Option("--hot", help="orders: one line of one SKU, 1,000 in stock")
    ] = False,
    server_workers: Annotated[
        int, typer.Option(min=1, max=16, help="--http: server processes")
    ] = 1,
    threads: Annotated[
        bool,
        typer.Option(
            "--threads", help="In-process callers as threads (default: tasks on one event loop)"
        ),
    ] = False,
) -> None:
    """Measure reservations per second with zero oversell, next to the same-run database ceiling.

    ``events`` captures orders over HTTP with the relay on and measures the
    events going out to NATS and a webhook endpoint.
    """
    config = BenchConfig(
        scenario=scenario,
        db=db,
        http=http,
        clients=clients,
        stock=stock or (1000 if scenario == "hot-sku" or hot else 100),
        attempts=attempts or (2000 if scenario in ("orders", "events") and not hot else 5000),
        skus=skus,
        locations=locations,
        server_workers=server_workers,
        hot=hot,
        threads=threads,
        nats=nats,
    )
    typer.echo(json.dumps(run(config)))
