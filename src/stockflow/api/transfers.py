"""Routes for transfers between locations: ship, receive, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import Actor, IdempotencyKey, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.api.schemas import Problem
from stockflow.api.transfer_schemas import (
    ReceiveIn,
    TransferIn,
    TransferOut,
)
from stockflow.stock.rules.access import Action, Resource
from stockflow.transfers.rules import ReceiveLine, TransferLineIn

router = APIRouter(tags=["transfers"])

_SHIP: dict[int | str, dict[str, Any]] = {
    200: {"model": TransferOut, "description": "A replay: the transfer shipped the first time"},
    **error_responses(409),
}
_RECEIVE: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The transfer was received already"},
}


@router.post(
    "/transfers",
    dependencies=[may(Resource.TRANSFERS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_SHIP,
)
def ship_transfer(
    sf: Sf,
    body: TransferIn,
    response: Response,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> TransferOut:
    """Ship free units from storage bins at ``from`` towards ``to``, all lines or none.

    409 with the available quantity when a line is short. The destination
    counts the units as incoming supply from ``expected_on``.
    """
    view = sf.transfers.ship(
        from_location=body.from_location,
        to_location=body.to_location,
        lines=[TransferLineIn(ln.sku, ln.qty, ln.lot) for ln in body.lines],
        expected_on=body.expected_on,
        actor=actor,
        idempotency_key=key,
        scope=who.scope,
    )
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return TransferOut.model_validate(view)


@router.post(
    "/transfers/{transfer_id}/receive",
    dependencies=[may(Resource.TRANSFERS, Action.WRITE)],
    responses=_RECEIVE,
)
def receive_transfer(
    sf: Sf,
    transfer_id: str,
    body: ReceiveIn,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> TransferOut:
    """Book in what arrived, every line at once; 409 when it was received already.

    Good units go to the destination's dock, damaged ones to quarantine, units
    that never came are written off in transit; discrepancies are raised as
    ``transfer_discrepancy`` exceptions. A retry with the same Idempotency-Key
    and the same lines answers the first receipt.
    """
    view = sf.transfers.receive(
        transfer_id,
        [ReceiveLine(ln.line_no, ln.received, ln.damaged) for ln in body.lines],
        actor=actor,
        idempotency_key=key,
        scope=who.scope,
    )
    return TransferOut.model_validate(view)


@router.get("/transfers", dependencies=[may(Resource.TRANSFERS, Action.READ)])
def list_transfers(
    sf: Sf,
    who: Who,
    transfer_status: Annotated[str | None, Query(alias="status")] = None,
    location: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TransferOut]:
    """Transfers newest first, optionally of one status or from / to one location."""
    page = sf.transfers.transfers(
        status=transfer_status, location=location, limit=limit, after=cursor, scope=who.scope
    )
    return page_of(Page[TransferOut], page, TransferOut.model_validate)


@router.get("/transfers/{transfer_id}", dependencies=[may(Resource.TRANSFERS, Action.READ)])
def get_transfer(sf: Sf, transfer_id: str, who: Who) -> TransferOut:
    """One transfer: what was shipped and, once received, what arrived."""
    return TransferOut.model_validate(sf.transfers.transfer(transfer_id, scope=who.scope))
