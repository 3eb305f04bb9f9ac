"""Publishing to NATS JetStream, on a real server: the stream, order, de-duplication, failures."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js.api import StorageType

from nats_server import Place, delete_stream, free_port, own_stream, stored, stream_config
from stockflow.adapters.nats import JetStream, JetStreamError, Message

TOPICS = ("order.captured", "stock.changed", "order.shipped")


@pytest.fixture
def place() -> Iterator[Place]:
    with own_stream() as place:
        yield place


def jetstream(
    place: Place, *, duplicate_window: timedelta = timedelta(hours=2), ack_timeout: float = 10
) -> JetStream:
    """The publisher of the test's own stream and subjects."""
    return JetStream(
        place.url,
        stream=place.stream,
        subjects_prefix=place.prefix,
        duplicate_window=duplicate_window,
        ack_timeout=ack_timeout,
    )


def batch(js: JetStream, numbers: range) -> list[Message]:
    """Events numbered ``numbers``, their topics taking turns."""
    return [
        Message(
            subject=js.subject(TOPICS[n % len(TOPICS)]),
            body=json.dumps({"id": n}).encode(),
            msg_id=str(n),
            headers={"Stockflow-Sequence": str(n)},
        )
        for n in numbers
    ]


def as_sent(place: Place) -> list[tuple[str, bytes, str]]:
    """What the stream holds: (subject, body, msg id) in the stream's order."""
    return [
        (m.subject, m.data or b"", (m.headers or {}).get("Nats-Msg-Id", ""))
        for m in asyncio.run(stored(place))
    ]


def expected(messages: list[Message]) -> list[tuple[str, bytes, str]]:
    return [(m.subject, m.body, m.msg_id) for m in messages]


def test_connect_creates_the_missing_stream_with_its_duplicate_window(place: Place) -> None:
    async def scenario() -> None:
        js = jetstream(place, duplicate_window=timedelta(minutes=10))
        await js.connect()
        await js.close()

    asyncio.run(scenario())
    config = asyncio.run(stream_config(place))
    assert config.subjects == [f"{place.prefix}.>"]
    assert config.storage == StorageType.FILE
    assert config.duplicate_window == 600


def test_connect_widens_a_shorter_window_and_keeps_a_longer_one(place: Place) -> None:
    async def connect(window: timedelta) -> float:
        js = jetstream(place, duplicate_window=window)
        await js.connect()
        await js.close()
        return (await stream_config(place)).duplicate_window

    assert asyncio.run(connect(timedelta(minutes=10))) == 600
    assert asyncio.run(connect(timedelta(hours=1))) == 3600
    assert asyncio.run(connect(timedelta(minutes=5))) == 3600


def test_a_batch_is_stored_once_in_the_order_given(place: Place) -> None:
    js = jetstream(place)
    messages = batch(js, range(1, 501))

    async def scenario() -> int:
        await js.connect()
        try:
            return await js.publish(messages)
        finally:
            await js.close()

    assert asyncio.run(scenario()) == 0
    assert as_sent(place) == expected(messages)
    held = asyncio.run(stored(place))
    assert (held[41].headers or {}).get("Stockflow-Sequence") == "42"


def test_the_same_ids_again_are_stored_once_and_counted(place: Place) -> None:
    js = jetstream(place)
    first, again = batch(js, range(1, 11)), batch(js, range(1, 16))

    async def scenario() -> tuple[int, int]:
        try:
            return await js.publish(first), await js.publish(again)
        finally:
            await js.close()

    assert asyncio.run(scenario()) == (0, 10)
    assert as_sent(place) == expected(again)


def test_a_subject_outside_the_stream_is_refused_before_anything_is_sent(place: Place) -> None:
    js = jetstream(place)
    stray = Message(subject="elsewhere.order.captured", body=b"{}", msg_id="x")

    async def scenario() -> None:
        await js.connect()
        try:
            await js.publish([*batch(js, range(1, 3)), stray])
        finally:
            await js.close()

    with pytest.raises(ValueError, match=r"elsewhere\.order\.captured"):
        asyncio.run(scenario())
    assert as_sent(place) == []


def test_a_batch_not_acknowledged_fails_whole_and_the_retry_stores_it(place: Place) -> None:
    js = jetstream(place)
    messages = batch(js, range(1, 6))

    async def scenario() -> int:
        await js.connect()
        await delete_stream(place)  # behind its back: nobody answers for the subjects now
        try:
            with pytest.raises(JetStreamError, match="did not store all 5 messages"):
                await js.publish(messages)
            return await js.publish(messages)  # a new connection makes the stream again
        finally:
            await js.close()

    assert asyncio.run(scenario()) == 0
    assert as_sent(place) == expected(messages)


def test_a_server_that_is_not_there_is_a_clear_error() -> None:
    port = free_port()
    js = JetStream(f"nats://relay:s3cret@127.0.0.1:{port}", connect_timeout=1)
    message = Message(subject=js.subject("order.captured"), body=b"{}", msg_id="1")
    with pytest.raises(JetStreamError, match=f"cannot reach NATS at 127.0.0.1:{port}") as caught:
        asyncio.run(js.connect())
    assert "s3cret" not in str(caught.value)
    with pytest.raises(JetStreamError, match=f"cannot reach NATS at 127.0.0.1:{port}"):
        asyncio.run(js.publish([message]))


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate_window"):
        JetStream("nats://127.0.0.1:4222", duplicate_window=timedelta(0))
    with pytest.raises(ValueError, match="ack_timeout"):
        JetStream("nats://127.0.0.1:4222", ack_timeout=0)


# --- a server that goes away and comes back ----------------------------------------------


def _nats_server() -> str:
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("no nats-server binary to start a server of the test's own")


def _start(binary: str, port: int, store: Path) -> subprocess.Popen[bytes]:
    """A JetStream server on ``port`` keeping its streams in ``store``, once it answers."""
    server = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    pytest.fail(f"nats-server did not start on port {port}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


def test_a_server_restart_fails_the_batch_at_once_and_the_next_publish_reconnects(
    tmp_path: Path,
) -> None:
    binary, port = _nats_server(), free_port()
    server = _start(binary, port, tmp_path)
    try:
        with own_stream(f"nats://127.0.0.1:{port}") as place:
            js = jetstream(place, ack_timeout=30)
            first, second = batch(js, range(1, 101)), batch(js, range(101, 201))

            async def scenario() -> tuple[int, float, int]:
                nonlocal server
                try:
                    stored_first = await js.publish(first)
                    _stop(server)
                    started = time.monotonic()
                    with pytest.raises(JetStreamError):
                        await js.publish(second)
                    failed_after = time.monotonic() - started
                    server = _start(binary, port, tmp_path)
                    return stored_first, failed_after, await js.publish(first + second)
                finally:
                    await js.close()

            duplicates_first, failed_after, duplicates_again = asyncio.run(scenario())
            assert duplicates_first == 0
            assert failed_after < 10  # the broken connection is noticed, not waited out
            assert duplicates_again == 100  # the first batch was kept across the restart
            assert as_sent(place) == expected(first + second)
    finally:
        _stop(server)
