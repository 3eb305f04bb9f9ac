"""Routes of events out: the stream as pages, and live as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from stockflow.api.deps import Sf
from stockflow.api.guard import SIGNED_IN, Who
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.bootstrap import Stockflow
from stockflow.config import Settings
from stockflow.errors import InvalidInput
from stockflow.events.front import topic_patterns
from stockflow.stock.rules.access import Principal

router = APIRouter(tags=["events"])

Types = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="Comma-separated event types or patterns (order.*, *); all when left out",
    ),
]


class EventPage(Page[dict[str, Any]]):
    """Events after a point of the stream, oldest first (documents as in the event catalogue).

    A feed has no last page: ``next`` is always where to look again, and an
    empty page means nothing new yet.
    """


@router.get("/events", dependencies=[SIGNED_IN], responses=error_responses(410))
def list_events(
    sf: Sf,
    who: Who,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**62,
            description="Start after this sequence number (as from Last-Event-ID or a webhook); "
            "left out, and no cursor: from now",
        ),
    ] = None,
    types: Types = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EventPage:
    """The events the caller may see, a page at a time: catching up without a stream."""
    patterns = topic_patterns(types)
    page = sf.events.feed(who, after=after, cursor=cursor, patterns=patterns, limit=limit)
    return page_of(EventPage, page, lambda e: e.document())


@router.get(
    "/events/stream",
    dependencies=[SIGNED_IN],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `id` is the sequence, `event` the type, "
            "`data` the event document; a comment line keeps a quiet stream alive",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(410),
    },
)
async def stream_events(
    request: Request,
    sf: Sf,
    who: Who,
    types: Types = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=20, description="Resume after this event"),
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**62,
            description="Resume after this sequence (for clients that "
            "cannot send Last-Event-ID); left out: from now",
        ),
    ] = None,
    max_seconds: Annotated[
        float | None,
        Query(
            gt=0,
            le=86_400,
            description="End the stream after this long (for proxies that cut long answers; "
            "resume with Last-Event-ID); left out: never",
        ),
    ] = None,
) -> StreamingResponse:
    """Events as they happen, filtered by type and by what the caller may see; resumable."""
    patterns = topic_patterns(types)
    resume = after if last_event_id is None else _sequence(last_event_id)
    start = await asyncio.to_thread(sf.events.start, resume)
    return StreamingResponse(
        _follow(request, sf, who, start, patterns, max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sequence(text: str) -> int:
    if not text.strip().isdigit():
        raise InvalidInput("must be an event's sequence number", field="Last-Event-ID")
    return int(text.strip())


async def _follow(
    request: Request,
    sf: Stockflow,
    who: Principal,
    cursor: int,
    patterns: tuple[str, ...],
    max_seconds: float | None,
) -> AsyncIterator[bytes]:
    settings = Settings()
    poll, keepalive = settings.stream_poll_seconds, settings.stream_keepalive_seconds
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    end = None if max_seconds is None else quiet_since + max_seconds
    yield f"retry: 2000\n: following events after {cursor}\n\n".encode()
    while not await request.is_disconnected():
        if end is not None and loop.time() >= end:
            return
        page = await asyncio.to_thread(sf.events.page, who, cursor, patterns=patterns, limit=200)
        cursor = page.next_after
        if page.events:
            yield b"".join(_frame(e.sequence, e.topic, e.document()) for e in page.events)
            quiet_since = loop.time()
            continue
        if loop.time() - quiet_since >= keepalive:
            yield b": keep-alive\n\n"
            quiet_since = loop.time()
        await asyncio.sleep(poll)


def _frame(sequence: int, topic: str, document: dict[str, Any]) -> bytes:
    data = json.dumps(document, separators=(",", ":"), default=str)
    return f"id: {sequence}\nevent: {topic}\ndata: {data}\n\n".encode()
