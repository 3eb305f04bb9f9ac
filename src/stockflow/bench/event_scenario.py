"""The ``events`` scenario: order capture over HTTP with the relay sending every event out.

The ``orders`` scenario's load (the same shop, orders and same-run ceiling)
goes to a real ``stockflow serve`` whose relay publishes to NATS JetStream
(``--nats`` or ``STOCKFLOW_NATS_URL``; without one that part is skipped) and
delivers to a webhook endpoint subscribed to every event. The endpoint and a
NATS subscriber run in processes of their own (``bench.listeners``) and note
when each event first reached them; the outbox says when each was committed
(``created_at``) and acknowledged by NATS (``published_at``).

While the load runs the backlog (events not yet published, plus webhook
deliveries pending) is sampled; after it stops, the drain is timed until
nothing is left. The warm-up's events are drained before the clock starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select

from stockflow.adapters.database import Database
from stockflow.adapters.tables import outbox, webhook_deliveries
from stockflow.bench.harness import BENCH_USER, BenchConfig, bench_token, report
from stockflow.bench.load import Server, Tally, hammer_http
from stockflow.bench.order_scenarios import OrderLoad, prepare_orders
from stockflow.bootstrap import Stockflow

SAMPLE_EVERY = 0.25  # seconds between looks at the backlog during the load
DRAIN_LIMIT = 300.0  # seconds the relay may take to send what is left after the load


class Listener:
    """A ``bench.listeners`` process: ready once it printed its port."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stockflow.bench.listeners", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.process.kill()
            raise RuntimeError(f"the {args[0]} listener did not start")
        self.port = int(line)

    def finish(self) -> dict[int, float]:
        """Stop it; the first arrival time (Unix seconds) of every event id it got."""
        out, _ = self.process.communicate("", timeout=60)
        arrivals: dict[int, float] = {}
        for line in out.splitlines():
            event_id, _, at = line.partition(" ")
            if event_id.isdigit():
                arrivals[int(event_id)] = float(at)
        return arrivals


@dataclass
class Backlog:
    """Events not yet published plus webhook deliveries pending, as sampled."""

    samples: list[int] = field(default_factory=list)
    at_end: int = 0
    drain_seconds: float = 0.0


def backlog_now(db: Database) -> int:
    """Events not yet published plus webhook deliveries still pending."""
    with db.read() as conn:
        unpublished = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
        pending = conn.execute(
            select(func.count()).where(webhook_deliveries.c.status == "pending")
        ).scalar_one()
    return int(unpublished) + int(pending)


def wait_drained(db: Database, *, within: float = DRAIN_LIMIT) -> float:
    """Seconds until the backlog is empty (raises if it is not within ``within``)."""
    started = time.monotonic()
    while backlog_now(db):
        if time.monotonic() - started > within:
            raise RuntimeError(f"the relay left events behind for {within:g} s")
        time.sleep(0.02)
    return time.monotonic() - started


def events_scenario(sf: Stockflow, url: str, c: BenchConfig) -> dict[str, Any]:
    """Capture orders over HTTP with events going out; the JSON report."""
    c = replace(c, http=True)
    load = prepare_orders(sf, url, c)
    token = bench_token(sf)
    sf.desk.close()  # the server has its own desks; keep this process out of the way
    sf.orders.close()
    nats = c.nats or os.environ.get("STOCKFLOW_NATS_URL") or None
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"STOCKFLOW_BENCH_{tag}", f"bench{tag}"
    hook = Listener("webhooks")
    sf.webhooks.subscribe(BENCH_USER, f"http://127.0.0.1:{hook.port}/hook", ["*"])
    subscriber = Listener("nats", nats, f"{prefix}.>") if nats else None
    env = {
        "STOCKFLOW_RELAY": "true",
        "STOCKFLOW_NATS_URL": nats or "",
        "STOCKFLOW_NATS_STREAM": stream,
        "STOCKFLOW_NATS_SUBJECT_PREFIX": prefix,
    }
    try:
        warmed, tally, since, first_id, backlog = _run(sf, url, c, load, token, env)
    finally:
        webhook_arrivals = hook.finish()
        nats_arrivals = subscriber.finish() if subscriber is not None else {}
        if nats:
            asyncio.run(_delete_stream(nats, stream))
    out = report(sf, c, tally, load.roof, load.roof_accepted, sku_prefix="S", warm_up=warmed)
    out["scenario"] = "events"
    out["orders_per_s"] = out["accepted_per_s"]
    out["relay"] = "beside the server"
    out["events"] = _event_figures(
        sf.db, tally, since, first_id, backlog, webhook_arrivals, nats_arrivals, nats
    )
    return out


def _run(
    sf: Stockflow, url: str, c: BenchConfig, load: OrderLoad, token: str, env: dict[str, str]
) -> tuple[Tally, Tally, float, int, Backlog]:
    """Warm up, drain, then the load with the backlog sampled, then the drain timed."""
    server = Server(url, workers=c.server_workers, env=env)
    try:

        def send(w: Any) -> Tally:
            return hammer_http(
                server.base_url, w.body, clients=c.clients, attempts=w.attempts, path=w.path,
                token=token,
            )  # fmt: skip

        warmed = send(load.warm_up)
        wait_drained(sf.db)
        with sf.db.read() as conn:
            first_id = int(conn.execute(select(func.max(outbox.c.id))).scalar() or 0)
        backlog = Backlog()
        result: list[Tally] = []
        worker = threading.Thread(target=lambda: result.append(send(load.work)))
        since = time.time()
        worker.start()
        while worker.is_alive():
            backlog.samples.append(backlog_now(sf.db))
            worker.join(SAMPLE_EVERY)
        backlog.at_end = backlog_now(sf.db)
        backlog.drain_seconds = wait_drained(sf.db)
        time.sleep(0.5)  # the NATS subscriber gets what was published last
        return warmed, result[0], since, first_id, backlog
    finally:
        server.stop()


def _event_figures(
    db: Database,
    tally: Tally,
    since: float,
    first_id: int,
    backlog: Backlog,
    webhook_arrivals: dict[int, float],
    nats_arrivals: dict[int, float],
    nats: str | None,
) -> dict[str, Any]:
    """What the events did: rates, end-to-end latencies, the backlog and the drain."""
    with db.read() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.created_at, outbox.c.published_at).where(
                outbox.c.id > first_id
            )
        ).all()
    made = {int(r.id): r.created_at.timestamp() for r in rows}
    count = len(made)
    acked = [r.published_at.timestamp() for r in rows if r.published_at is not None]
    hooks = [webhook_arrivals[i] for i in made if i in webhook_arrivals]
    half = len(backlog.samples) // 2
    return {
        "committed": count,
        "per_order": round(count / tally.accepted, 2) if tally.accepted else None,
        "committed_per_s": _rate(count, tally.seconds),
        "to_nats_per_s": _rate(len(acked), max(acked, default=since) - since) if nats else None,
        "to_webhooks_per_s": _rate(len(hooks), max(hooks, default=since) - since),
        "webhooks_received": len(hooks),
        "nats_received": sum(1 for i in made if i in nats_arrivals) if nats else None,
        "webhook_latency_ms": _latencies(made, webhook_arrivals),
        "nats_latency_ms": _latencies(made, nats_arrivals) if nats else None,
        "backlog": {
            "max": max([*backlog.samples, backlog.at_end]),
            "mean_first_half": _mean(backlog.samples[:half]),
            "mean_second_half": _mean(backlog.samples[half:]),
            "at_end_of_load": backlog.at_end,
        },
        "drain_seconds": round(backlog.drain_seconds, 2),
        "nats": f"JetStream at {_where(nats)}"
        if nats
        else "skipped: no --nats or STOCKFLOW_NATS_URL",
    }


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def _latencies(made: dict[int, float], arrivals: dict[int, float]) -> dict[str, float | int]:
    """p50 and p99 of commit-to-arrival times in milliseconds, over the events that arrived."""
    spans = sorted((arrivals[i] - at) * 1000 for i, at in made.items() if i in arrivals)
    if not spans:
        return {"events": 0, "p50": 0.0, "p99": 0.0}

    def pick(p: float) -> float:
        return round(spans[min(len(spans) - 1, round(p / 100 * (len(spans) - 1)))], 1)

    return {"events": len(spans), "p50": pick(50), "p99": pick(99)}


def _where(url: str) -> str:
    """The NATS server's address without credentials."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 4222}" if parts.hostname else url


async def _delete_stream(url: str, stream: str) -> None:
    """Delete the run's own stream (the server is shared)."""
    import nats
    import nats.js.errors

    with contextlib.suppress(Exception):
        client = await nats.connect(url, allow_reconnect=False)
        try:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await client.jetstream().delete_stream(stream)
        finally:
            await client.close()
