"""Routes for returns: authorise an RMA, receive and inspect its units, close or cancel it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import Field

from stockflow.api.deps import Actor, IdempotencyKey, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.schemas import Body, LineNo, Out, Problem, Qty
from stockflow.returns.queries import ReturnView
from stockflow.returns.rules import (
    AuthoriseReturn,
    InspectReturn,
    ReceiveLineIn,
    ReceiveReturn,
    ReturnLineIn,
)
from stockflow.stock.rules.access import Action, Principal, Resource

router = APIRouter(tags=["returns"])

Lot = Annotated[str, Field(min_length=1, max_length=64)]

_AUTHORISE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A replay: the RMA authorised earlier under this Idempotency-Key"},
    409: {
        "model": Problem,
        "description": "Nothing shipped, or more than may still come back; names the line",
    },
}
_STEP: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "The RMA cannot take this step now, or the quantity is too large",
    }
}


class ReturnLineBody(Body):
    line_no: LineNo = Field(description="The order line")
    qty: Qty = Field(description="Units of the line (whole kits for a kit line)")


class ReturnIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    location: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None, description="Where the units come back; default: where they shipped from"
    )
    lines: Annotated[list[ReturnLineBody], Field(min_length=1, max_length=500)]


class ReceiveLineBody(Body):
    line_no: LineNo = Field(description="The RMA line")
    qty: Qty
    lot: Lot | None = Field(default=None, description="Required for a lot-tracked SKU")


class ReceiveIn(Body):
    lines: Annotated[list[ReceiveLineBody], Field(min_length=1, max_length=500)]


class InspectIn(Body):
    line_no: LineNo = Field(description="The RMA line")
    disposition: Literal["restock", "repair", "quarantine", "scrap"]
    qty: Qty = 1
    note: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="Why; required for scrap (the write-off reason)"
    )
    lot: Lot | None = Field(default=None, description="Which lot, when more than one waits")


class ReturnLineOut(Out):
    line_no: int
    order_line_no: int
    sku: str
    qty: int = Field(description="Units authorised")
    received: int
    inspected: int
    awaiting_inspection: int


class DispositionOut(Out):
    id: int
    line_no: int
    disposition: str
    qty: int
    note: str | None
    actor: str
    at: datetime


class ReturnOut(Out):
    id: str
    order_id: str
    location: str
    status: str
    reason: str
    refund_suggested: Decimal | None = Field(
        description="Sold price (else list price) x units, to 0.01; null for a role that does"
        " not see prices"
    )
    created_at: datetime
    updated_at: datetime
    lines: list[ReturnLineOut]
    dispositions: list[DispositionOut]

    def seen_by(self, who: Principal) -> ReturnOut:
        """The RMA as ``who`` may read it: the refund, made of prices, only if it sees prices."""
        return self if who.sees_prices else self.model_copy(update={"refund_suggested": None})


@router.post(
    "/orders/{order_id}/returns",
    dependencies=[may(Resource.RETURNS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_AUTHORISE,
)
def authorise_return(
    sf: Sf, order_id: str, body: ReturnIn, response: Response, actor: Actor, who: Who,
    key: IdempotencyKey = None,
) -> ReturnOut:  # fmt: skip
    """Authorise shipped units of an order to come back (an RMA) and suggest the refund."""
    view = sf.returns.authorise(
        AuthoriseReturn(
            order_id=order_id,
            lines=tuple(ReturnLineIn(ln.line_no, ln.qty) for ln in body.lines),
            reason=body.reason,
            location=body.location,
            idempotency_key=key,
            actor=actor,
        ),
        scope=who.scope,
    )
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return _out(view, who)


@router.get("/returns", dependencies=[may(Resource.RETURNS, Action.READ)])
def list_returns(
    sf: Sf,
    who: Who,
    rma_status: Annotated[str | None, Query(alias="status")] = None,
    order_id: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ReturnOut]:
    """RMAs, newest first, optionally of one status or order."""
    page = sf.returns.page(
        status=rma_status, order_id=order_id, after=cursor, limit=limit, scope=who.scope
    )
    return page_of(Page[ReturnOut], page, lambda v: _out(v, who))


@router.get("/returns/{rma_id}", dependencies=[may(Resource.RETURNS, Action.READ)])
def get_return(sf: Sf, rma_id: str, who: Who) -> ReturnOut:
    """One RMA: its lines, what arrived and was inspected, every disposition, the refund."""
    return _out(sf.returns.rma(rma_id, scope=who.scope), who)


@router.post(
    "/returns/{rma_id}/receive", dependencies=[may(Resource.RETURNS, Action.WRITE)], responses=_STEP
)
def receive_return(
    sf: Sf, rma_id: str, body: ReceiveIn, actor: Actor, who: Who, key: IdempotencyKey = None
) -> ReturnOut:
    """Book arrived units into the returns bin: on hand, not available until inspected."""
    lines = tuple(ReceiveLineIn(ln.line_no, ln.qty, ln.lot) for ln in body.lines)
    cmd = ReceiveReturn(rma_id, lines, idempotency_key=key, actor=actor)
    return _out(sf.returns.receive(cmd, scope=who.scope), who)


@router.post(
    "/returns/{rma_id}/inspect", dependencies=[may(Resource.RETURNS, Action.WRITE)], responses=_STEP
)
def inspect_return(
    sf: Sf, rma_id: str, body: InspectIn, actor: Actor, who: Who, key: IdempotencyKey = None
) -> ReturnOut:
    """Give arrived units a disposition: restock, repair, quarantine or scrap (with a note).

    Restocked units are available again and go to waiting orders first. The RMA
    closes once everything authorised has arrived and been inspected.
    """
    cmd = InspectReturn(
        rma_id, body.line_no, body.disposition, body.qty, note=body.note, lot=body.lot,
        idempotency_key=key, actor=actor,
    )  # fmt: skip
    return _out(sf.returns.inspect(cmd, scope=who.scope), who)


@router.post(
    "/returns/{rma_id}/close", dependencies=[may(Resource.RETURNS, Action.WRITE)], responses=_STEP
)
def close_return(
    sf: Sf, rma_id: str, actor: Actor, who: Who, key: IdempotencyKey = None
) -> ReturnOut:
    """Close a received RMA by hand: units not yet back are no longer expected.

    Every arrived unit must be inspected first. Closing a closed RMA answers
    with it unchanged, so a retry (with or without its key) is harmless.
    """
    return _out(sf.returns.close(rma_id, actor=actor, scope=who.scope), who)


@router.post(
    "/returns/{rma_id}/cancel", dependencies=[may(Resource.RETURNS, Action.WRITE)], responses=_STEP
)
def cancel_return(
    sf: Sf, rma_id: str, actor: Actor, who: Who, key: IdempotencyKey = None
) -> ReturnOut:
    """Cancel an RMA nothing has arrived for; its units may be authorised again."""
    return _out(sf.returns.cancel(rma_id, actor=actor, scope=who.scope), who)


def _out(view: ReturnView, who: Principal) -> ReturnOut:
    return ReturnOut.model_validate(view).seen_by(who)
