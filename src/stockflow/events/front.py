"""The events feature's front door: reading the stream a caller may see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from stockflow.adapters import paging
from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Keyset
from stockflow.adapters.tables import outbox
from stockflow.errors import Gone, InvalidInput
from stockflow.events import stream
from stockflow.events.rules import Envelope, matches, visible_to
from stockflow.stock.rules.access import Principal
from stockflow.stock.rules.events import Topic

_SCAN = 500  # events read per look, visible or not
FEED = Keyset("events", outbox.c.sequence)  # cursors of the feed: the last sequence looked at


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

    def start(self, after: int | None, *, field: str = "Last-Event-ID") -> int:
        """Where a reader starts: after ``after`` if that is still kept, else now (None).

        Raises ``Gone`` when events after ``after`` were pruned already: the
        reader would miss them, and must load the current state again instead.
        ``field`` names the input ``after`` came from.
        """
        with self.db.read() as conn:
            low, high = stream.bounds(conn)
        if after is None:
            return high
        if after < 0 or after > high:
            raise InvalidInput(f"the stream has no event {after} (last: {high})",
                               field=field)  # fmt: skip
        if low and after < low - 1:
            raise Gone(
                f"events after {after} are no longer kept (the oldest kept is {low}); "
                "load the current state and follow the stream from now",
                field=field,
            )
        return after

    def feed(
        self, principal: Principal, *, after: int | None = None, cursor: str | None = None,
        patterns: Sequence[str] = ("*",), limit: int = DEFAULT_PAGE,
    ) -> paging.Page[Envelope]:  # fmt: skip
        """A page of the events the caller may see: after ``cursor``, else after ``after``, else
        from now. A feed never ends: ``next`` is always the place to look again."""
        if cursor is not None and after is not None:
            raise InvalidInput("send either after or cursor, not both", field="cursor")
        if cursor is not None:
            start = self.start(FEED.decode(cursor)[0], field="cursor")
        else:
            start = self.start(after, field="after")
        found = self.page(principal, start, patterns=patterns, limit=limit)
        return paging.Page(found.events, FEED.encode([found.next_after]))

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
