"""``stockflow relay``: run the event relay on its own, outside any server."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stockflow.cli.options import DbOption, database_url
from stockflow.config import Settings

if TYPE_CHECKING:
    from stockflow.events.relay import Relay

console = Console()


def relay(
    db: DbOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Relay what is waiting now, then exit")
    ] = False,
) -> None:
    """Relay committed events (webhooks, NATS) until interrupted; stands by while another runs."""
    from stockflow.bootstrap import Stockflow
    from stockflow.bootstrap import relay as build_relay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    sf = Stockflow.open(database_url(db))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = build_relay(sf, settings)
    try:
        if once:
            sent = asyncio.run(_drain(worker))
            console.print(f"relay: {sent} event(s) relayed")
            return
        console.print("stockflow relay: waiting for the relay lease", highlight=False)
        asyncio.run(worker.run(stop.is_set))
    finally:
        sf.close()


async def _drain(worker: Relay) -> int:
    if not await asyncio.to_thread(worker.lease.acquire):
        console.print("relay: another relay holds the lease; nothing done")
        raise typer.Exit(1)
    try:
        return await worker.drain()
    finally:
        await asyncio.to_thread(worker.lease.release)
