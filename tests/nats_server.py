"""The NATS server with JetStream that tests publish to.

``STOCKFLOW_TEST_NATS_URL``, else a server on 127.0.0.1:4222 (``scripts/test``
finds or starts one). Without one the tests are skipped, except under
``CI=true``, where that is a failure. Each test works in a stream and subjects
of its own and deletes the stream afterwards: the server is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import nats
import nats.js.errors
import pytest
from nats.js.api import RawStreamMsg, StreamConfig

DEFAULT_URL = "nats://127.0.0.1:4222"


def nats_url() -> str:
    """The test server's URL, or skip (fail under CI) when nothing answers there."""
    url = os.environ.get("STOCKFLOW_TEST_NATS_URL", DEFAULT_URL)
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 2).close()
    except OSError as exc:
        reason = f"no NATS server answers at {url} ({exc}): set STOCKFLOW_TEST_NATS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Place:
    """A stream and subject prefix of one test's own on the test server."""

    url: str
    stream: str
    prefix: str


@contextlib.contextmanager
def own_stream(url: str | None = None) -> Iterator[Place]:
    """A fresh stream name and prefix; the stream is deleted afterwards if it was made."""
    tag = uuid.uuid4().hex[:12]
    place = Place(url or nats_url(), f"TEST_{tag}", f"test{tag}")
    try:
        yield place
    finally:
        asyncio.run(delete_stream(place))


async def delete_stream(place: Place) -> None:
    """Delete the place's stream, if it exists."""
    client = await nats.connect(place.url, allow_reconnect=False)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(place.stream)
    finally:
        await client.close()


async def stream_config(place: Place) -> StreamConfig:
    """How the place's stream is configured on the server."""
    client = await nats.connect(place.url, allow_reconnect=False)
    try:
        return (await client.jetstream().stream_info(place.stream)).config
    finally:
        await client.close()


async def stored(place: Place) -> list[RawStreamMsg]:
    """Every message the place's stream holds, in the stream's order (none if it is missing)."""
    client = await nats.connect(place.url, allow_reconnect=False)
    try:
        js = client.jetstream()
        try:
            state = (await js.stream_info(place.stream)).state
        except nats.js.errors.NotFoundError:
            return []
        if state.messages == 0:
            return []
        sequences = range(state.first_seq, state.last_seq + 1)
        return [await js.get_msg(place.stream, seq) for seq in sequences]
    finally:
        await client.close()
