"""Routes for cycle counts: open one, the counter's blind sheet, counting, deciding, accuracy.

The counter's routes (``/sheet``, ``/count``, ``/found``) answer with bodies
that carry no books' quantity; the supervisor's (``GET /counts/{id}``,
approve, reject) show the books at counting time and the variance.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.count_schemas import (
    AccuracyOut,
    CountedIn,
    CountIn,
    CountLineOut,
    CountOut,
    FoundIn,
    SheetLineOut,
    SheetOut,
)
from stockflow.api.deps import Actor, IdempotencyKey, LineNoPath, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.schemas import Problem
from stockflow.counts.rules import CountScope
from stockflow.stock.rules.access import Action, Resource

router = APIRouter(tags=["cycle counts"])

_CREATE: dict[int | str, dict[str, Any]] = {
    200: {"model": CountOut, "description": "A replay: the count opened the first time"},
}
_STEP: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The line (or count) cannot take that step now"},
}
_FOUND: dict[int | str, dict[str, Any]] = {
    200: {"model": SheetLineOut, "description": "A replay: the line the find made the first time"},
    **_STEP,
}


@router.post(
    "/counts",
    dependencies=[may(Resource.COUNTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATE,
)
def create_count(
    sf: Sf, body: CountIn, response: Response, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> CountOut:  # fmt: skip
    """Open a count: one line per SKU and lot in each bin of the scope (empty positions too)."""
    scope = body.scope
    view = sf.counts.create(
        location=body.location,
        scope=CountScope(scope.kind, scope.zone, tuple(scope.bins), scope.abc_class, scope.days),
        tolerance_pct=body.tolerance_pct,
        actor=actor,
        idempotency_key=key,
        within=who.scope,
    )
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return CountOut.model_validate(view)


@router.get("/counts", dependencies=[may(Resource.COUNTS, Action.READ)])
def list_counts(
    sf: Sf,
    who: Who,
    location: str | None = None,
    count_status: Annotated[str | None, Query(alias="status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[CountOut]:
    """Counts newest first (without their lines), optionally of one location or status."""
    page = sf.counts.counts(
        location=location, status=count_status, limit=limit, after=cursor, scope=who.scope
    )
    return page_of(Page[CountOut], page, CountOut.model_validate)


@router.get("/counts/accuracy", dependencies=[may(Resource.COUNTS, Action.READ)])
def count_accuracy(
    sf: Sf,
    who: Who,
    start: date,
    end: date,
    location: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AccuracyOut]:
    """Inventory record accuracy per location (in code order) over lines counted in a range."""
    found = sf.counts.accuracy(
        start=start, end=end, location=location, after=cursor, limit=limit, scope=who.scope
    )
    return page_of(Page[AccuracyOut], found, AccuracyOut.model_validate)


@router.get("/counts/{count_id}", dependencies=[may(Resource.COUNTS, Action.READ)])
def get_count(sf: Sf, count_id: str, who: Who) -> CountOut:
    """The supervisor's view: the books at counting time, counts and variances."""
    return CountOut.model_validate(sf.counts.count(count_id, scope=who.scope))


@router.get("/counts/{count_id}/sheet", dependencies=[may(Resource.COUNTS, Action.READ)])
def count_sheet(sf: Sf, count_id: str, who: Who) -> SheetOut:
    """The counter's blind sheet in walking order: where to count and what, never how many."""
    return SheetOut.model_validate(sf.counts.sheet(count_id, scope=who.scope))


@router.post(
    "/counts/{count_id}/lines/{line_no}/count",
    dependencies=[may(Resource.COUNTS, Action.WRITE)],
    responses=_STEP,
)
def submit_count(
    sf: Sf, count_id: str, line_no: LineNoPath, body: CountedIn, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> SheetLineOut:  # fmt: skip
    """Record what the counter found on one line (409 once it is counted)."""
    return SheetLineOut.model_validate(
        sf.counts.submit(
            count_id, line_no, body.counted, actor=actor, idempotency_key=key, scope=who.scope
        )
    )


@router.post(
    "/counts/{count_id}/found",
    dependencies=[may(Resource.COUNTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_FOUND,
)
def report_found(
    sf: Sf, count_id: str, body: FoundIn, response: Response, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> SheetLineOut:  # fmt: skip
    """Count a SKU (and lot) found in a bin where the count has no line for it.

    A retry with the same Idempotency-Key answers 200 with the line it made.
    """
    line = sf.counts.report_found(
        count_id, bin=body.bin, sku=body.sku, lot=body.lot, counted=body.counted,
        actor=actor, idempotency_key=key, scope=who.scope,
    )  # fmt: skip
    if line.replayed:
        response.status_code = status.HTTP_200_OK
    return SheetLineOut.model_validate(line)


@router.post(
    "/counts/{count_id}/lines/{line_no}/approve",
    dependencies=[may(Resource.COUNTS, Action.WRITE)],
    responses=_STEP,
)
def approve_line(
    sf: Sf, count_id: str, line_no: LineNoPath, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> CountLineOut:  # fmt: skip
    """Post a waiting variance against what is on hand now; not by the person who counted."""
    return CountLineOut.model_validate(
        sf.counts.approve(count_id, line_no, actor=actor, idempotency_key=key, scope=who.scope)
    )


@router.post(
    "/counts/{count_id}/lines/{line_no}/reject",
    dependencies=[may(Resource.COUNTS, Action.WRITE)],
    responses=_STEP,
)
def reject_line(
    sf: Sf, count_id: str, line_no: LineNoPath, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> CountLineOut:  # fmt: skip
    """Keep the books and close a waiting line; not by the person who counted."""
    return CountLineOut.model_validate(
        sf.counts.reject(count_id, line_no, actor=actor, idempotency_key=key, scope=who.scope)
    )


@router.post(
    "/counts/{count_id}/cancel", dependencies=[may(Resource.COUNTS, Action.WRITE)], responses=_STEP
)
def cancel_count(sf: Sf, count_id: str, who: Who) -> CountOut:
    """Call off an open count whose variances are all decided."""
    return CountOut.model_validate(sf.counts.cancel(count_id, scope=who.scope))
