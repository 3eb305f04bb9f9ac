"""Routes for moves, adjustments, positions, ATP and the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import Actor, IdempotencyKey, Limit, Sf, decode_cursor, encode_cursor
from stockflow.api.guard import may
from stockflow.api.problems import error_responses
from stockflow.api.schemas import (
    AdjustmentIn,
    AtpOut,
    DriftOut,
    MoveIn,
    MoveOut,
    MovePage,
    PositionOut,
    VerifyOut,
)
from stockflow.errors import InvalidInput
from stockflow.stock.queries.ledger import ledger_page
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.commands import Place, PostMove

router = APIRouter(tags=["stock"])


def _post(sf: Sf, cmd: PostMove, response: Response) -> MoveOut:
    record = sf.post_move(cmd)
    if record.replayed:
        response.status_code = status.HTTP_200_OK
    return MoveOut.model_validate(record)


@router.post(
    "/moves",
    dependencies=[may(Resource.ADJUSTMENTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
    responses=error_responses(409),
)
def post_move(
    sf: Sf, body: MoveIn, response: Response, actor: Actor, key: IdempotencyKey = None
) -> MoveOut:
    """Post a ledger move: receipt, putaway, move, pick, ship, return, scrap, transfer."""
    cmd = PostMove(
        sku=body.sku,
        qty=body.qty,
        reason=body.reason,
        source=Place(**body.source.model_dump()) if body.source else None,
        target=Place(**body.target.model_dump()) if body.target else None,
        actor=actor,
        reference=body.reference,
        note=body.note,
        lot_expires_on=body.expires_on,
        idempotency_key=key,
    )
    return _post(sf, cmd, response)


@router.post(
    "/adjustments",
    dependencies=[may(Resource.ADJUSTMENTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
    responses=error_responses(409),
)
def post_adjustment(
    sf: Sf, body: AdjustmentIn, response: Response, actor: Actor, key: IdempotencyKey = None
) -> MoveOut:
    """Add (positive delta) or remove (negative delta) units at a position, with a reason."""
    if body.delta == 0:
        raise InvalidInput("must not be 0", field="delta")
    place = Place(body.location, body.bin, body.lot)
    cmd = PostMove(
        sku=body.sku,
        qty=abs(body.delta),
        reason=body.reason,
        source=place if body.delta < 0 else None,
        target=place if body.delta > 0 else None,
        actor=actor,
        reference=body.reference,
        note=body.note,
        lot_expires_on=body.expires_on,
        idempotency_key=key,
    )
    return _post(sf, cmd, response)


@router.get("/moves", dependencies=[may(Resource.STOCK, Action.READ)], response_model_by_alias=True)
def list_moves(
    sf: Sf, sku: str | None = None, limit: Limit = 100, cursor: str | None = None
) -> MovePage:
    """The ledger, newest first (optionally of one SKU)."""
    raw = decode_cursor(cursor)
    if raw is not None and not raw.isdigit():
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    with sf.db.read() as conn:
        page = ledger_page(conn, sku=sku, before=int(raw) if raw else None, limit=limit)
    items = [MoveOut.model_validate(r) for r in page]
    return MovePage(items=items, next=encode_cursor(page[-1].id) if len(page) == limit else None)


@router.get("/positions", dependencies=[may(Resource.STOCK, Action.READ)])
def list_positions(
    sf: Sf, sku: str | None = None, location: str | None = None
) -> list[PositionOut]:
    """Stock positions (SKU x location x bin x lot) with on hand, allocated and available."""
    return [
        PositionOut(
            sku=p.sku,
            location=p.location,
            bin=p.bin,
            lot=p.lot,
            expires_on=p.expires_on,
            on_hand=p.on_hand,
            allocated=p.allocated,
            available=0 if p.expired else max(0, p.free),
            expired=p.expired,
        )
        for p in sf.positions(sku=sku, location=location)
    ]


@router.get("/atp", dependencies=[may(Resource.STOCK, Action.READ)])
def bulk_atp(
    sf: Sf, sku: Annotated[list[str] | None, Query(max_length=1000)] = None
) -> list[AtpOut]:
    """Available-to-promise of several SKUs (or every SKU with stock when none is named)."""
    return [AtpOut.model_validate(a) for a in sf.atp(sku)]


@router.get("/atp/{sku}", dependencies=[may(Resource.STOCK, Action.READ)])
def sku_atp(sf: Sf, sku: str) -> AtpOut:
    """Available-to-promise of one SKU, per location and in total."""
    return AtpOut.model_validate(sf.atp([sku])[0])


@router.get("/verify", dependencies=[may(Resource.STOCK, Action.READ)])
def run_verify(sf: Sf) -> VerifyOut:
    """Recompute I1-I3 from the ledger and allocations; ``ok`` is false when anything drifted."""
    drift = sf.verify()
    return VerifyOut(ok=not drift, drift=[DriftOut.model_validate(d) for d in drift])
