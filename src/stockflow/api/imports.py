"""Routes for the record of imported files: what went in, when, by whom, newest first.

Files are imported from the command line (``stockflow import ...``); the
record is read here. It names people and files, so it is read with the audit
trail's permission.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from stockflow.api.deps import Limit, Sf, decode_cursor, encode_cursor
from stockflow.api.guard import may
from stockflow.errors import InvalidInput
from stockflow.stock.import_runs import import_run_page
from stockflow.stock.rules.access import Action, Resource

router = APIRouter(tags=["imports"])


class ImportRunOut(BaseModel):
    """One imported file."""

    id: int
    kind: str
    file: str
    sha256: str
    rows: int
    actor: str
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]


class ImportRunPage(BaseModel):
    """A page of imported files, newest first; ``next`` is the cursor of the next page."""

    items: list[ImportRunOut]
    next: str | None


@router.get("/imports", dependencies=[may(Resource.AUDIT, Action.READ)])
def import_runs(
    sf: Sf,
    limit: Limit = 100,
    kind: Annotated[
        str | None, Query(max_length=32, description="skus, locations, bins, stock, orders...")
    ] = None,
    cursor: str | None = None,
) -> ImportRunPage:
    """The files imported so far, newest first: kind, file, SHA-256, rows, who, when, summary."""
    raw = decode_cursor(cursor)
    if raw is not None and not raw.isdigit():
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    before = int(raw) if raw else None
    runs = sf.db.snapshot(lambda conn: import_run_page(conn, kind=kind, before=before, limit=limit))
    return ImportRunPage(
        items=[ImportRunOut.model_validate(r, from_attributes=True) for r in runs],
        next=encode_cursor(runs[-1].id) if len(runs) == limit else None,
    )
