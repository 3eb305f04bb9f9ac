"""The transactional outbox: events written in the same transaction as the change they announce.

A relay (webhooks, a message broker) reads unpublished rows after commit, so
an event is sent if and only if its change committed. The same events are kept
on the connection until the transaction ends, so that once it has committed
the reactions to them can run (``Database.run`` hands them on).

Some events are worked out once per transaction rather than per change (the
stock totals of every position a transaction touched): their writers gather
what they touched on a hook from ``before_commit``, and every write
transaction (``Database.run``, a desk's ``Line.run``) runs the hooks after its
work, still inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from stockflow.adapters import bulk
from stockflow.adapters.tables import outbox

_RECORDED = "stockflow.recorded_events"
_HOOKS = "stockflow.before_commit"


class Event(Protocol):
    """What the outbox needs of an event."""

    @property
    def topic(self) -> str:
        """The topic it is published under."""
        ...

    @property
    def version(self) -> int:
        """The version of its payload's shape."""
        ...

    @property
    def published(self) -> bool:
        """False for an event only reactions inside stockflow follow: it is not written out."""
        ...

    @property
    def aggregate(self) -> str | None:
        """What kind of thing it belongs to ("order", "position"...), if any."""
        ...

    @property
    def key(self) -> str | None:
        """The id of the aggregate it belongs to, if any."""
        ...

    @property
    def scope(self) -> dict[str, list[str]] | None:
        """The locations, channels and suppliers it concerns: who may be told of it."""
        ...

    def payload(self) -> dict[str, object]:
        """The event as JSON-ready data."""
        ...


def event_row(event: Event, *, now: datetime) -> dict[str, object]:
    """One outbox row, for callers that write rows in bulk."""
    return {
        "topic": str(event.topic),
        "version": event.version,
        "aggregate": event.aggregate,
        "key": event.key,
        "scope": event.scope,
        "payload": event.payload(),
        "created_at": now,
    }


def record(conn: Connection, *events: Event, now: datetime, publish: bool = True) -> None:
    """Record events inside the caller's transaction: in the outbox, and for the reactions.

    ``publish=False`` only asks for the reactions: a replayed request changed
    nothing this time, so it announces nothing, yet reacting again is harmless
    (an earlier attempt may have committed and died before its reactions ran).
    """
    rows = [event_row(e, now=now) for e in events if e.published] if publish else []
    if rows:
        # One statement whatever the count (a capture batch writes a few per order).
        bulk.write(conn, bulk.Insert(outbox, rows))
    recorded_so_far(conn).extend(events)


def recorded_so_far(conn: Connection) -> list[Event]:
    """The events this transaction has recorded (a list the caller may add to)."""
    found: list[Event] = conn.info.setdefault(_RECORDED, [])
    return found


def start_recording(conn: Connection) -> None:
    """Forget events and hooks left on a pooled connection by a transaction that rolled back."""
    conn.info[_RECORDED] = []
    conn.info.pop(_HOOKS, None)


def take_recorded(conn: Connection) -> Sequence[Event]:
    """The events the transaction recorded, taken off the connection."""
    taken: list[Event] = conn.info.pop(_RECORDED, [])
    return taken


class Hook(Protocol):
    """Work a transaction does once, at the end of its work, before it commits."""

    def __call__(self, conn: Connection) -> None:
        """Do it, on the transaction's connection."""
        ...


H = TypeVar("H", bound=Hook)


def before_commit(conn: Connection, name: str, make: Callable[[], H]) -> H:
    """The hook this transaction has under ``name``, made and registered on the first call.

    A writer asks on every change it makes and gathers on the hook what it
    needs, so the hook runs once per transaction however many changes there
    were. A transaction that rolls back takes its hooks with it.
    """
    hooks: dict[str, Hook] = conn.info.setdefault(_HOOKS, {})
    found = hooks.get(name)
    if found is None:
        found = hooks[name] = make()
    return found  # type: ignore[return-value]


def run_before_commit(conn: Connection) -> None:
    """Run (and forget) the hooks the transaction registered, in the order they came."""
    hooks: dict[str, Hook] | None = conn.info.pop(_HOOKS, None)
    for hook in (hooks or {}).values():
        hook(conn)
