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

from stockflow.api.deps import Sf
from stockflow.api.guard import may
from stockflow.api.pages import Cursor, Limit, Page, page_of
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


@router.get("/imports", dependencies=[may(Resource.AUDIT, Action.READ)])
def import_runs(
    sf: Sf,
    limit: Limit = 100,
    kind: Annotated[
        str | None, Query(max_length=32, description="skus, locations, bins, stock, orders...")
    ] = None,
    cursor: Cursor = None,
) -> Page[ImportRunOut]:
    """The files imported so far, newest first: kind, file, SHA-256, rows, who, when, summary."""
    runs = sf.db.snapshot(lambda conn: import_run_page(conn, kind=kind, after=cursor, limit=limit))
    return page_of(
        Page[ImportRunOut], runs, lambda r: ImportRunOut.model_validate(r, from_attributes=True)
    )
