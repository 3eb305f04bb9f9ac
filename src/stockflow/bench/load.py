"""Drive many concurrent clients, in-process or over HTTP, and time every attempt."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httptools
import httpx

from stockflow.errors import InsufficientStock

Attempt = Callable[[int], bool]
"""Make attempt number ``n``; True when accepted, False when refused for lack of stock."""


@dataclass
class Tally:
    """What the clients saw."""

    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    body_bytes: int = 0  # response bodies received (GET loads)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in milliseconds."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def hammer(make_client: Callable[[], Attempt], *, clients: int, attempts: int) -> Tally:
    """Run ``attempts`` attempts over ``clients`` threads, all released at once."""
    counter = itertools.count()
    lock = threading.Lock()
    tally = Tally()
    ready = threading.Barrier(clients + 1)

    def client() -> None:
        attempt = make_client()
        mine: list[float] = []
        accepted = rejected = errors = 0
        ready.wait()
        while True:
            with lock:
                n = next(counter)
            if n >= attempts:
                break
            started = time.perf_counter()
            try:
                if attempt(n):
                    accepted += 1
                else:
                    rejected += 1
            except Exception:
                errors += 1
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            tally.accepted += accepted
            tally.rejected += rejected
            tally.errors += errors
            tally.latencies_ms.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    tally.seconds = time.perf_counter() - started
    return tally


def hammer_async(call: Callable[[int], Awaitable[object]], *, clients: int, attempts: int) -> Tally:
    """Make ``attempts`` library calls from ``clients`` tasks on one event loop.

    This is how an asyncio application (or stockflow's own server) calls the
    library: each task awaits its reservation, and a task switch costs far
    less than waking an operating-system thread.
    """
    return _on_server_loop(_hammer_async(call, clients=clients, attempts=attempts))


async def _hammer_async(
    call: Callable[[int], Awaitable[object]], *, clients: int, attempts: int
) -> Tally:
    tally = Tally()
    counter = itertools.count()

    async def client() -> None:
        while (n := next(counter)) < attempts:
            started = time.perf_counter()
            try:
                await call(n)
                tally.accepted += 1
            except InsufficientStock:
                tally.rejected += 1
            except Exception:
                tally.errors += 1
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    tally.seconds = time.perf_counter() - started
    return tally


def _on_server_loop(work: Coroutine[Any, Any, Tally]) -> Tally:
    """Run ``work`` on the event loop the server runs on: uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it everywhere but Windows
        return asyncio.run(work)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


def library_attempt(call: Callable[[int], object]) -> Attempt:
    """An attempt through the Python library: refused when it raises InsufficientStock."""

    def attempt(n: int) -> bool:
        try:
            call(n)
        except InsufficientStock:
            return False
        return True

    return attempt


def hammer_http(
    base_url: str,
    body: Callable[[int], dict[str, object]],
    *,
    clients: int,
    attempts: int,
    path: str = "/api/v1/reservations",
    token: str | None = None,
) -> Tally:
    """Post ``attempts`` requests (reservations by default) over ``clients`` keep-alive connections.

    The load generator must cost far less than the server it measures, so it
    is a bare HTTP/1.1 client: requests are written as bytes on one event loop
    and responses are parsed by httptools (C), keeping only the status code.
    Each request carries ``token`` as its bearer token, when one is given.
    """
    return _on_server_loop(
        _hammer_http(base_url, body, path, clients=clients, attempts=attempts, token=token)
    )


async def _hammer_http(
    base_url: str,
    body: Callable[[int], dict[str, object]],
    path: str,
    *,
    clients: int,
    attempts: int,
    token: str | None,
) -> Tally:
    tally = Tally()
    counter = itertools.count()
    url = httptools.parse_url(base_url.encode())
    host, port = (url.host or b"127.0.0.1").decode(), url.port or 80
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(_KeepAlive, host, port))[1] for _ in range(clients)
    ]

    async def client(connection: _KeepAlive) -> None:
        while (n := next(counter)) < attempts:
            payload = json.dumps(body(n)).encode()
            request = f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            started = time.perf_counter()
            try:
                status = await connection.send(request)
            except ConnectionError:
                tally.errors += 1
                return
            if status == 201:
                tally.accepted += 1
            elif status == 409:
                tally.rejected += 1
            else:
                tally.errors += 1
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        tally.seconds = time.perf_counter() - started
        for connection in connections:
            connection.close()
    return tally


def hammer_get(
    base_url: str,
    path_for: Callable[[int], str],
    *,
    clients: int,
    attempts: int,
    token: str | None = None,
    budget_s: float | None = None,
    timeout_s: float = 300.0,
) -> Tally:
    """GET ``path_for(n)`` ``attempts`` times over ``clients`` keep-alive connections.

    200 counts as accepted, 404 as rejected, anything else as an error. With
    ``budget_s`` the clients take no new request once that many seconds have
    passed, so a slow endpoint is measured with fewer requests rather than
    for ever; a request that takes longer than ``timeout_s`` is an error and
    ends its client.
    """
    return _on_server_loop(
        _hammer_get(base_url, path_for, clients=clients, attempts=attempts, token=token,
                    budget_s=budget_s, timeout_s=timeout_s)
    )  # fmt: skip


async def _hammer_get(
    base_url: str,
    path_for: Callable[[int], str],
    *,
    clients: int,
    attempts: int,
    token: str | None,
    budget_s: float | None,
    timeout_s: float,
) -> Tally:
    tally = Tally()
    counter = itertools.count()
    url = httptools.parse_url(base_url.encode())
    host, port = (url.host or b"127.0.0.1").decode(), url.port or 80
    tail = f" HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
    if token is not None:
        tail += f"Authorization: Bearer {token}\r\n"
    tail += "\r\n"
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(_KeepAlive, host, port))[1] for _ in range(clients)
    ]
    started = time.perf_counter()

    async def client(connection: _KeepAlive) -> None:
        while (n := next(counter)) < attempts:
            if budget_s is not None and time.perf_counter() - started > budget_s:
                return
            request = f"GET {path_for(n)}{tail}".encode()
            sent = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.send(request), timeout_s)
            except (ConnectionError, TimeoutError):
                tally.errors += 1
                return
            tally.body_bytes += connection.body_bytes
            if status == 200:
                tally.accepted += 1
            elif status == 404:
                tally.rejected += 1
            else:
                tally.errors += 1
            tally.latencies_ms.append((time.perf_counter() - sent) * 1000)

    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        tally.seconds = time.perf_counter() - started
        for connection in connections:
            connection.close()
    return tally


class _KeepAlive(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[int] | None = None
        self.body_bytes = 0  # of the last response

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unreadable response: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("the server closed the connection"))

    def _fail(self, exc: ConnectionError) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    async def send(self, request: bytes) -> int:
        """Write one request; the response's status code."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        self._answer = asyncio.get_running_loop().create_future()
        self.body_bytes = 0
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()


class Server:
    """``stockflow serve`` in a child process on a free loopback port."""

    def __init__(self, url: str, *, workers: int = 1, env: Mapping[str, str] | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stockflow",
                "serve",
                "--db",
                url,
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: nobody reads during the run, and a full pipe would stall
            # the server and the relay beside it at their next line of output.
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace")
                raise RuntimeError(f"the server exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer within 60 s")

    @property
    def pid(self) -> int:
        """The server process's id."""
        return self._process.pid

    def memory_kb(self) -> dict[str, int] | None:
        """The server's resident memory now (``VmRSS``) and at its peak (``VmHWM``), in kB.

        Read from ``/proc``; None where there is none (not Linux).
        """
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return None
        found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
        return {name: int(kb) for name, kb in found.items()}

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()
