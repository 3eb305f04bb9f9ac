"""The events feature's front door: reading the stream a caller may see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from stockflow.adapters.database import Database
from stockflow.errors import Gone, InvalidInput
from stockflow.events import stream
from stockflow.events.rules import Envelope, matches, visible_to
from stockflow.stock.rules.access import Principal
from stockflow.stock.rules.events import Topic

_SCAN = 500  # events read per look, visible or not


@dataclass(frozen=True, slots=True)
class Page:
    """Events a caller may see after a point of the stream, and where the next look starts."""

    events: list[Envelope]
    next_after: int  # the last sequence looked at (seen or hidden)


def topic_patterns(text: str | None, *, field: str = "types") -> tuple[str, ...]:
    """Comma-separated topics or patterns (``order.*``, ``*``), each checked; none: all."""
    if text is None or not text.strip():
        return ("*",)
    known = {str(t) for t in Topic}
    wanted = tuple(p.strip() for p in text.split(",") if p.strip())
    for n, pattern in enumerate(wanted):
        if pattern == "*" or pattern in known:
            continue
        if pattern.endswith(".*") and any(t.startswith(pattern[:-1]) for t in known):
            continue
        raise InvalidInput(f"{pattern!r} is not an event type (see the event catalogue)",
                           field=f"{field}[{n}]")  # fmt: skip
    return wanted


class Events:
    """Events out, as the API and the CLI see them."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def start(self, after: int | None) -> int:
        """Where a reader starts: after ``after`` if that is still kept, else now (None).

        Raises ``Gone`` when events after ``after`` were pruned already: the
        reader would miss them, and must load the current state again instead.
        """
        with self.db.read() as conn:
            low, high = stream.bounds(conn)
        if after is None:
            return high
        if after < 0 or after > high:
            raise InvalidInput(f"the stream has no event {after} (last: {high})",
                               field="Last-Event-ID")  # fmt: skip
        if low and after < low - 1:
            raise Gone(
                f"events after {after} are no longer kept (the oldest kept is {low}); "
                "load the current state and follow the stream from now",
                field="Last-Event-ID",
            )
        return after

    def page(
        self, principal: Principal, after: int, *, patterns: Sequence[str], limit: int
    ) -> Page:
        """Up to ``limit`` events after ``after`` that ``principal`` may see and wants."""
        found: list[Envelope] = []
        cursor = after
        while len(found) < limit:
            with self.db.read() as conn:
                batch = stream.after(conn, cursor, limit=_SCAN)
            for event in batch:
                if len(found) == limit:
                    return Page(found, cursor)
                cursor = event.sequence
                if matches(patterns, event.topic) and visible_to(principal, event):
                    found.append(event)
            if len(batch) < _SCAN:
                break
        return Page(found, cursor)
