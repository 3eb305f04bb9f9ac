"""NATS JetStream: the broker the event relay publishes to.

Every message carries its ``Nats-Msg-Id``, so JetStream stores a message it
already holds only once (within the stream's duplicate window): after a failure
the relay publishes the whole batch again and nothing is doubled.

Order: a batch is written in the order given, pipelined on one connection, and
the server stores what one connection sends in that order. The client never
reconnects by itself in the middle of a batch (messages left in its buffer
would then overtake ones lost with the old connection); when the connection
breaks or an acknowledgement is missing, the batch fails as a whole, the
connection is dropped, and the next ``publish`` opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType, StreamConfig

log = logging.getLogger(__name__)

_MSG_ID = "Nats-Msg-Id"
# What the client raises when the server cannot be reached or does not answer.
_FAILURES = (nats.errors.Error, OSError, TimeoutError)


class JetStreamError(Exception):
    """NATS could not be reached, or did not store every message of a batch."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish: its subject, body and de-duplication id."""

    subject: str
    body: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


class JetStream:
    """A JetStream stream stockflow publishes to, and the connection to it."""

    def __init__(
        self,
        url: str,
        *,
        stream: str = "STOCKFLOW",
        subjects_prefix: str = "stockflow",
        duplicate_window: timedelta = timedelta(hours=2),
        connect_timeout: float = 5.0,
        ack_timeout: float = 10.0,
    ) -> None:
        if duplicate_window <= timedelta(0):
            raise ValueError("duplicate_window must be positive")
        if connect_timeout <= 0 or ack_timeout <= 0:
            raise ValueError("connect_timeout and ack_timeout must be positive")
        self._url = url
        self.stream = stream
        self.subjects_prefix = subjects_prefix
        self.duplicate_window = duplicate_window
        self._connect_timeout = connect_timeout
        self._ack_timeout = ack_timeout
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._in_flight: list[asyncio.Future[PubAck]] = []
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        """The server's address, without any credentials in the URL."""
        parts = urlsplit(self._url)
        return f"{parts.hostname}:{parts.port or 4222}" if parts.hostname else self._url

    @property
    def subjects(self) -> str:
        """The subjects the stream holds: every one under the prefix."""
        return f"{self.subjects_prefix}.>"

    def subject(self, topic: str) -> str:
        """The subject an event of ``topic`` is published under."""
        return f"{self.subjects_prefix}.{topic}"

    async def connect(self) -> None:
        """Connect, and create the stream if it is missing (or widen its duplicate window)."""
        await self.close()
        client = await self._open()
        js = client.jetstream(timeout=self._ack_timeout)
        try:
            await self._ensure_stream(js)
        except BaseException:
            await _close_quietly(client)
            raise
        self._client, self._js = client, js

    async def publish(self, messages: Sequence[Message]) -> int:
        """Publish ``messages`` in order and wait until JetStream has stored every one.

        Returns how many JetStream already held (duplicates by ``msg_id``). Raises
        ``JetStreamError`` if any message is not acknowledged: the caller publishes
        the whole batch again. Raises ``ValueError`` before sending anything if a
        subject lies outside the stream.
        """
        outside = [
            m.subject for m in messages if not m.subject.startswith(self.subjects_prefix + ".")
        ]
        if outside:
            raise ValueError(f"subject {outside[0]!r} is not under {self.subjects!r}")
        if not messages:
            return 0
        async with self._lock:
            if self._js is None or self._client is None or self._client.is_closed:
                await self.connect()
            assert self._js is not None
            try:
                acks = await asyncio.wait_for(self._send(self._js, messages), self._ack_timeout)
            except (*_FAILURES, JetStreamError) as exc:
                await self.close()
                raise JetStreamError(
                    f"NATS at {self.where} did not store all {len(messages)} messages"
                    f" ({_reason(exc)}); publish the batch again"
                ) from exc
        return sum(1 for ack in acks if ack.duplicate)

    async def close(self) -> None:
        """Close the connection, if one is open."""
        client, self._client, self._js = self._client, None, None
        if client is not None:
            await _close_quietly(client)

    async def _open(self) -> Client:
        """A new connection that never reconnects by itself."""
        failures: list[Exception] = []

        async def noted(exc: Exception) -> None:
            failures.append(exc)
            log.warning("NATS at %s: %s", self.where, _reason(exc))

        try:
            return await nats.connect(
                self._url,
                name="stockflow",
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=max(1, math.ceil(self._connect_timeout)),
                error_cb=noted,
                disconnected_cb=self._lost,
            )
        except _FAILURES as exc:
            reason = _reason(failures[-1] if failures else exc)
            raise JetStreamError(f"cannot reach NATS at {self.where}: {reason}") from exc

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream, or make sure it holds our subjects long enough to de-duplicate."""
        window = self.duplicate_window.total_seconds()
        try:
            try:
                config = (await js.stream_info(self.stream)).config
            except nats.js.errors.NotFoundError:
                await js.add_stream(
                    StreamConfig(
                        name=self.stream,
                        subjects=[self.subjects],
                        storage=StorageType.FILE,
                        duplicate_window=window,
                    )
                )
                return
            subjects = list(config.subjects or [])
            if self.subjects in subjects and config.duplicate_window >= window:
                return
            if self.subjects not in subjects:
                subjects.append(self.subjects)
            config.subjects = subjects
            config.duplicate_window = max(config.duplicate_window, window)
            await js.update_stream(config)
        except _FAILURES as exc:
            raise JetStreamError(
                f"cannot set up JetStream stream {self.stream!r} at {self.where}"
                f" (is JetStream enabled?): {_reason(exc)}"
            ) from exc

    async def _send(self, js: JetStreamContext, messages: Sequence[Message]) -> list[PubAck]:
        """Send every message without waiting in between, then wait for every acknowledgement."""
        self._in_flight = []
        try:
            for message in messages:
                headers = {**message.headers, _MSG_ID: message.msg_id}
                ack = await js.publish_async(
                    message.subject, message.body, stream=self.stream, headers=headers
                )
                self._in_flight.append(ack)
            outcomes = await asyncio.gather(*self._in_flight, return_exceptions=True)
        finally:
            for ack in self._in_flight:
                ack.cancel()
            self._in_flight = []
        failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failed:
            raise JetStreamError(f"{len(failed)} not acknowledged, the first: {_reason(failed[0])}")
        return [outcome for outcome in outcomes if isinstance(outcome, PubAck)]

    async def _lost(self) -> None:
        """The connection broke: no acknowledgement still awaited will come."""
        for ack in self._in_flight:
            if not ack.done():
                ack.set_exception(JetStreamError("the connection was lost"))


async def _close_quietly(client: Client) -> None:
    """Close ``client``; a connection that is already broken closes without complaint."""
    with contextlib.suppress(*_FAILURES):
        await client.close()


def _reason(exc: BaseException) -> str:
    """A short description of a failure, for an error message."""
    text = str(exc).strip()
    if isinstance(exc, JetStreamError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
