"""``stockflow relay``: run the event relay on its own, outside any server."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
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
    parent: Annotated[
        int | None,
        typer.Option("--parent", hidden=True, help="Stop when this process (the server) is gone"),
    ] = None,
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
        if parent is not None:
            _watch(parent, stop)
        console.print("stockflow relay: waiting for the relay lease", highlight=False)
        asyncio.run(worker.run(stop.is_set))
    finally:
        sf.close()


def _watch(parent: int, stop: threading.Event) -> None:
    """Stop relaying once ``parent`` is gone, however it ended (a SIGKILLed server included).

    On Linux the kernel also sends SIGTERM the moment the parent dies; the
    poll covers other systems and the instant before that is armed.
    """
    _term_with_parent()

    def watch() -> None:
        while not stop.wait(0.5):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, name="stockflow-relay-parent", daemon=True).start()


def _term_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def beside(url: str) -> subprocess.Popen[bytes]:
    """``stockflow relay`` as a child of this process, which it does not outlive."""
    parent = str(os.getpid())
    command = [sys.executable, "-m", "stockflow", "relay", "--db", url, "--parent", parent]
    return subprocess.Popen(command)  # noqa: S603 - this interpreter, our own arguments


def stop_beside(child: subprocess.Popen[bytes]) -> None:
    """Ask the relay beside this process to let its lease go, and wait for it."""
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


async def _drain(worker: Relay) -> int:
    if not await asyncio.to_thread(worker.lease.acquire):
        console.print("relay: another relay holds the lease; nothing done")
        raise typer.Exit(1)
    try:
        return await worker.drain()
    finally:
        await asyncio.to_thread(worker.lease.release)
