"""The transactional outbox: events written in the same transaction as the change they announce.

A relay (webhooks, a message broker) reads unpublished rows after commit, so
an event is sent if and only if its change committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection

from stockflow.adapters.tables import outbox


def event_row(
    topic: str, payload: Mapping[str, object], *, key: str | None, now: datetime
) -> dict[str, object]:
    """One outbox row, for callers that write rows in bulk."""
    return {"topic": topic, "key": key, "payload": dict(payload), "created_at": now}


def emit(
    conn: Connection, topic: str, payload: Mapping[str, object], *, key: str | None,
    now: datetime,
) -> None:  # fmt: skip
    """Record an event inside the caller's transaction."""
    conn.execute(outbox.insert().values(event_row(topic, payload, key=key, now=now)))
