"""``stockflow bench``: one scenario, one JSON object on stdout."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stockflow.bench.harness import BenchConfig
from stockflow.bench.scale import ScaleConfig, run_scale
from stockflow.bench.scale_data import parse_size
from stockflow.bench.scenarios import run
from stockflow.errors import InvalidInput

NatsOption = Annotated[
    str | None,
    typer.Option(
        "--nats", help="events: NATS server the relay publishes to (default: STOCKFLOW_NATS_URL)"
    ),
]


SizeOption = Annotated[
    str,
    typer.Option(
        "--size",
        help="scale: a multiple of a year (10,000 SKUs x 10 locations, 100,000 orders, "
        "1,000,000 moves): 1x, 10x, 0.1x...",
    ),
]
RequestsOption = Annotated[int, typer.Option(min=1, help="scale: requests per list page or lookup")]
BudgetOption = Annotated[
    float,
    typer.Option(
        "--budget", min=0.1, help="scale: seconds per list page or lookup, at most (fewer requests)"
    ),
]
DeepOption = Annotated[
    float,
    typer.Option(
        "--deep-seconds", min=0, help="scale: seconds to walk each list looking for a deep page"
    ),
]
CaptureOption = Annotated[
    int, typer.Option(min=1, help="scale: orders the capture bench sends, loaded and empty")
]


def bench(
    scenario: Annotated[
        str, typer.Argument(help="hot-sku, spread, orders, events or scale")
    ] = "hot-sku",
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
    clients: Annotated[
        int | None,
        typer.Option(min=1, max=512, help="Concurrent clients (default: 32; scale: 8)"),
    ] = None,
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
    size: SizeOption = "1x",
    requests: RequestsOption = 400,
    budget: BudgetOption = 20.0,
    deep_seconds: DeepOption = 20.0,
    capture_orders: CaptureOption = 2000,
) -> None:
    """Measure reservations per second with zero oversell, next to the same-run database ceiling.

    ``events`` captures orders over HTTP with the relay on and measures the
    events going out to NATS and a webhook endpoint. ``scale`` loads a year's
    data (``--size``) through the imports and measures imports, every list and
    lookup over HTTP, capture against an empty database, verify, size and memory.
    Progress goes to stderr, the JSON to stdout.
    """
    if scenario == "scale":
        try:
            parse_size(size)
        except InvalidInput as exc:
            raise typer.BadParameter(str(exc), param_hint="--size") from None
        scale = ScaleConfig(
            size=size, db=db, clients=clients or 8, requests=requests, budget_s=budget,
            deep_s=deep_seconds, capture_orders=capture_orders,
        )  # fmt: skip
        typer.echo(json.dumps(run_scale(scale)))
        return
    config = BenchConfig(
        scenario=scenario,
        db=db,
        http=http,
        clients=clients or 32,
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
