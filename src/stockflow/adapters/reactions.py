"""Reactions after commit: one handler table, run for the events each transaction recorded.

The composition root builds the table (which reactions follow which event);
``Database.run`` hands every committed transaction's events here. A handler
gets all of one commit's events of its type at once, so a batch of a hundred
captured orders costs one reaction, not a hundred. Handlers run in the order
the table lists them. A reaction's own transaction records events too: they
join the queue and run after the current ones, on the same thread, before the
command that started it all returns to its caller. A reaction that fails
stops the queue and reaches the caller as ``ReactionFailed``: the command
itself was saved, and its answer says so.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stockflow.errors import ReactionFailed

Handler = Callable[[Sequence[Any]], None]

log = logging.getLogger(__name__)


class Reactions:
    """Runs the reactions to committed events, in the order the handler table gives."""

    def __init__(self, table: Mapping[type, Sequence[Handler]] | None = None) -> None:
        self._table: dict[type, tuple[Handler, ...]] = {
            kind: tuple(handlers) for kind, handlers in (table or {}).items()
        }
        self._local = threading.local()

    def handles(self, kind: type) -> tuple[Handler, ...]:
        """The reactions to one kind of event, in the order they run."""
        return self._table.get(kind, ())

    def __call__(self, events: Sequence[object]) -> None:
        """React to one commit's events (queued behind the current ones when called from one)."""
        queue: deque[Sequence[object]] | None = getattr(self._local, "queue", None)
        if queue is not None:
            queue.append(events)
            return
        queue = self._local.queue = deque([events])
        try:
            while queue:
                self._run(queue.popleft())
        finally:
            self._local.queue = None

    def _run(self, events: Sequence[object]) -> None:
        by_kind: dict[type, list[object]] = {}
        for event in events:
            by_kind.setdefault(type(event), []).append(event)
        for kind, group in by_kind.items():
            for handler in self._table.get(kind, ()):
                try:
                    handler(group)
                except ReactionFailed:
                    raise
                except Exception as exc:
                    # The command has committed: its caller must not hear "nothing changed".
                    log.exception("reaction %s to %s failed", _name(handler), kind.__name__)
                    raise ReactionFailed(
                        f"the change was saved; {_name(handler)} after {kind.__name__} failed"
                    ) from exc


def _name(handler: Handler) -> str:
    return getattr(handler, "__name__", repr(handler))
