"""Reading the event stream: sequenced outbox rows as envelopes, in commit order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, func, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import outbox
from stockflow.events.rules import Envelope

_COLUMNS = (
    outbox.c.id,
    outbox.c.topic,
    outbox.c.version,
    outbox.c.sequence,
    outbox.c.aggregate,
    outbox.c.key,
    outbox.c.aggregate_sequence,
    outbox.c.created_at,
    outbox.c.payload,
    outbox.c.scope,
)


def envelope(m: RowMapping) -> Envelope:
    """One sequenced outbox row as the envelope every way out sends."""
    return Envelope(
        id=int(m["id"]),
        topic=str(m["topic"]),
        version=int(m["version"]),
        sequence=int(m["sequence"]),
        aggregate=m["aggregate"],
        key=m["key"],
        aggregate_sequence=m["aggregate_sequence"],
        created_at=m["created_at"],
        payload=m["payload"] or {},
        scope=m["scope"],
    )


def after(conn: Connection, sequence: int, *, limit: int = 500) -> list[Envelope]:
    """Events after ``sequence`` in the stream, oldest first, at most ``limit``."""
    query = (
        select(*_COLUMNS)
        .where(outbox.c.sequence > sequence)
        .order_by(outbox.c.sequence)
        .limit(limit)
    )
    return [envelope(r) for r in conn.execute(query).mappings()]


def by_ids(conn: Connection, ids: Sequence[int]) -> list[Envelope]:
    """The sequenced events with these outbox ids, in stream order (pruned ones are missing)."""
    if not ids:
        return []
    query = (
        select(*_COLUMNS)
        .where(among(outbox.c.id, ids), outbox.c.sequence.is_not(None))
        .order_by(outbox.c.sequence)
    )
    return [envelope(r) for r in conn.execute(query).mappings()]


def bounds(conn: Connection) -> tuple[int, int]:
    """The oldest and newest sequence still kept (0, 0 before the first)."""
    low, high = conn.execute(select(func.min(outbox.c.sequence), func.max(outbox.c.sequence))).one()
    return int(low or 0), int(high or 0)
