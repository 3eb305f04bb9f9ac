"""The audit trail: who changed what, written in the transaction that changed it.

A front end (an HTTP request, a CLI command) says who is acting with
``acting_as``; every write transaction ``Database.run`` commits while it
holds then carries one audit row naming that principal, how it got in (a
token, a browser session, the command line), from where, the command and
what it touched. Because the row commits or rolls back with the change, the
trail never claims a change that did not happen nor misses one that did. A
request that writes in several transactions (a change and then the
reactions to it) is recorded once, by its first.

The desks run their callers' commands on their own threads, so a desk takes
each caller's ``current()`` along with the command and writes the rows for a
whole batch in that batch's transaction. It first ``stage``s them on the
connection, one per command of the batch; a batch writer that already sends
one statement for everything it writes (``stock.reservations``) takes the rows
of the commands it accepted with ``staged_rows`` and sends them in that same
statement, and the desk writes whatever was not taken afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, insert

from stockflow.adapters.tables import audit_log

_MAX_SUBJECTS = 20  # event subjects kept on one row; a bulk import touches thousands


class Subject(Protocol):
    """What the trail needs of a recorded event: its topic and the aggregate it is about."""

    @property
    def topic(self) -> str:
        """The topic it is published under."""
        ...

    @property
    def key(self) -> str | None:
        """The aggregate it belongs to, if any."""
        ...


@dataclass(slots=True)
class Acting:
    """Who is acting now, and on what; ``recorded`` once a transaction has written its row."""

    actor: str
    role: str
    via: str  # token, session, cli
    command: str
    target: dict[str, str] = field(default_factory=dict)
    token_id: int | None = None
    remote: str | None = None
    recorded: bool = False

    def row(self, events: Sequence[Subject], *, now: datetime, outcome: str) -> dict[str, object]:
        """The audit row for one transaction of this command."""
        subjects = [f"{e.topic}:{e.key}" if e.key else str(e.topic) for e in events]
        target: dict[str, object] = dict(self.target)
        if subjects:
            target["events"] = subjects[:_MAX_SUBJECTS]
        return {
            "at": now,
            "actor": self.actor,
            "role": self.role,
            "token_id": self.token_id,
            "via": self.via,
            "remote": self.remote,
            "command": self.command[:200],
            "target": target,
            "outcome": outcome,
        }


_CURRENT: ContextVar[Acting | None] = ContextVar("stockflow_acting", default=None)


def current() -> Acting | None:
    """Who is acting in this thread or task, if a front end said so."""
    return _CURRENT.get()


@contextmanager
def acting_as(acting: Acting | None) -> Iterator[Acting | None]:
    """Write transactions inside the block are recorded under ``acting`` (None: not recorded)."""
    token = _CURRENT.set(acting)
    try:
        yield acting
    finally:
        _CURRENT.reset(token)


def start(acting: Acting | None) -> Token[Acting | None]:
    """``acting_as`` without a block, for a hot path: pass what it answers to ``end``."""
    return _CURRENT.set(acting)


def end(token: Token[Acting | None]) -> None:
    """Undo ``start``."""
    _CURRENT.reset(token)


def begin(acting: Acting) -> None:
    """Act as ``acting`` until the current task or thread ends (for an ASGI request's task)."""
    _CURRENT.set(acting)


def write(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    """Insert audit rows in the caller's transaction."""
    if rows:
        conn.execute(insert(audit_log), list(rows))


def record(conn: Connection, events: Sequence[Subject], *, now: datetime) -> Acting | None:
    """Write the acting principal's row for this transaction, unless its command already has one.

    Returns the ``Acting`` to mark as recorded once the transaction commits.
    """
    acting = _CURRENT.get()
    if acting is None or acting.recorded:
        return None
    write(conn, [acting.row(events, now=now, outcome="done")])
    return acting


_STAGED = "stockflow.audit_staged"


@dataclass(slots=True)
class Staged:
    """A batch's audit records, one per command (None: nobody acting), and those written."""

    actings: list[Acting | None]
    written: list[Acting] = field(default_factory=list)


def stage(conn: Connection, actings: Sequence[Acting | None]) -> Staged:
    """Put a batch's audit records on the connection for its transaction."""
    staged = Staged(list(actings))
    conn.info[_STAGED] = staged
    return staged


def staged_rows(
    conn: Connection, indexes: Iterable[int], *, now: datetime
) -> list[dict[str, object]]:
    """The rows of the staged commands at ``indexes`` (those that took effect), taken for writing.

    A command already recorded, or named twice, gets no second row.
    """
    staged: Staged | None = conn.info.get(_STAGED)
    if staged is None:
        return []
    rows = []
    for i in indexes:
        acting = staged.actings[i]
        if acting is None or acting.recorded or any(w is acting for w in staged.written):
            continue
        staged.actings[i] = None  # taken
        staged.written.append(acting)
        rows.append(acting.row((), now=now, outcome="done"))
    return rows
