"""The message broker the relay publishes to: NATS JetStream, one subject per event type."""

from __future__ import annotations

from collections.abc import Sequence

from stockflow.adapters.nats import JetStream, Message
from stockflow.events.rules import Envelope


class NatsBroker:
    """Publishes envelopes to JetStream with the event id as ``Nats-Msg-Id``."""

    def __init__(self, jetstream: JetStream) -> None:
        self.jetstream = jetstream

    async def connect(self) -> None:
        """Connect, making the stream if it is missing."""
        await self.jetstream.connect()

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Publish in stream order; returns once JetStream stored (or recognised) every one."""
        await self.jetstream.publish(
            [
                Message(
                    self.jetstream.subject(e.topic),
                    e.body(),
                    str(e.id),
                    {"Stockflow-Sequence": str(e.sequence), "Stockflow-Type": e.topic},
                )
                for e in envelopes
            ]
        )

    async def close(self) -> None:
        """Disconnect."""
        await self.jetstream.close()
