"""Events written straight to the outbox, to test the ways out apart from the catalogue."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stockflow.adapters.outbox import record
from stockflow.bootstrap import Stockflow
from stockflow.events.relay import Relay


@dataclass(frozen=True)
class Happened:
    """An outbox event of any topic, aggregate and scope."""

    topic: str
    key: str
    scope: dict[str, list[str]] | None = None
    data: dict[str, object] = field(default_factory=dict)
    aggregate: str = "order"
    version: int = 1
    published: bool = True

    def payload(self) -> dict[str, object]:
        return {"id": self.key, **self.data}


def happen(sf: Stockflow, *events: Happened) -> None:
    """Commit ``events`` in one transaction."""
    sf.db.run(lambda conn: record(conn, *events, now=datetime.now(UTC)))


def relay_now(sf: Stockflow) -> int:
    """Put everything committed in the stream (as the relay would), once."""
    relay = Relay(sf.db, sf.clock)
    assert relay.lease.acquire(), "another relay holds the lease"
    try:
        return asyncio.run(relay.drain())
    finally:
        relay.lease.release()
