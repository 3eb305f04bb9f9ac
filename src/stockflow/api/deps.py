"""Named FastAPI dependencies."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from stockflow.api import guard
from stockflow.api.schemas import MAX_LINE_NO, MAX_ROW_ID
from stockflow.bootstrap import Stockflow
from stockflow.errors import InvalidInput


async def _stockflow(request: Request) -> Stockflow:
    app: Stockflow = request.app.state.stockflow
    return app


Sf = Annotated[Stockflow, Depends(_stockflow)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Send the same key again and the request takes effect only once",
    ),
]
# Who acts: the signed-in caller's name, under which its ledger moves are written.
Actor = Annotated[str, Depends(guard.actor)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
# Every numeric id or line number in a path: out of its column's range it is a 422, not a 500.
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
LineNoPath = Annotated[int, Path(ge=1, le=MAX_LINE_NO)]


def encode_cursor(value: str | int) -> str:
    """An opaque cursor for the next page."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The key a cursor stands for."""
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("is not a cursor this API gave out", field="cursor") from None


def created_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created at, id) a cursor of a page ordered newest first stands for."""
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    at, _, last_id = raw.partition("|")
    try:
        created = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidInput("is not a cursor this API gave out", field="cursor") from None
    if created.tzinfo is None or not last_id:
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    return created, last_id


def created_id_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (created at, numeric id) a cursor of a page ordered newest first stands for."""
    found = created_cursor(cursor)
    if found is None:
        return None
    at, last = found
    if not last.isdigit():
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    return at, int(last)
