"""Routes for moves, adjustments, positions, ATP and the ledger."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import Actor, IdempotencyKey, Limit, Sf, decode_cursor, encode_cursor
from stockflow.api.problems import error_responses
from stockflow.api.schemas import (
    AdjustmentIn,
    AtpOut,
    DriftOut,
    MoveIn,
    MoveOut,
    MovePage,
    PlaceOut,
    PositionOut,
    VerifyOut,
)
from stockflow.errors import InvalidInput
from stockflow.stock.ledger import MoveRecord
from stockflow.stock.queries.ledger import LedgerEnd, ledger_page
from stockflow.stock.rules.commands import Place, PostMove

router = APIRouter(tags=["stock"])


def _place(p: Place | LedgerEnd | None) -> PlaceOut | None:
    return None if p is None else PlaceOut(location=p.location, bin=p.bin, lot=p.lot)


def _move_out(m: MoveRecord) -> MoveOut:
    return MoveOut(
        id=m.id,
        sku=m.sku,
        qty=m.qty,
        reason=m.reason,
        source=_place(m.source),
        target=_place(m.target),
        actor=m.actor,
        reference=m.reference,
        note=m.note,
        created_at=m.created_at,
    )


def _post(sf: Sf, cmd: PostMove, response: Response) -> MoveOut:
    record = sf.post_move(cmd)
    if record.replayed:
        response.status_code = status.HTTP_200_OK
    return _move_out(record)


@router.post(
    "/moves",
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


@router.get("/moves", response_model_by_alias=True)
def list_moves(
    sf: Sf, sku: str | None = None, limit: Limit = 100, cursor: str | None = None
) -> MovePage:
    """The ledger, newest first (optionally of one SKU)."""
    raw = decode_cursor(cursor)
    if raw is not None and not raw.isdigit():
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    with sf.db.read() as conn:
        page = ledger_page(conn, sku=sku, before=int(raw) if raw else None, limit=limit)
    items = [
        MoveOut(
            id=r.id,
            sku=r.sku,
            qty=r.qty,
            reason=r.reason,
            source=_place(r.source),
            target=_place(r.target),
            actor=r.actor,
            reference=r.reference,
            note=r.note,
            created_at=r.created_at,
        )
        for r in page
    ]
    return MovePage(items=items, next=encode_cursor(page[-1].id) if len(page) == limit else None)


@router.get("/positions")
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


@router.get("/atp")
def bulk_atp(
    sf: Sf, sku: Annotated[list[str] | None, Query(max_length=1000)] = None
) -> list[AtpOut]:
    """Available-to-promise of several SKUs (or every SKU with stock when none is named)."""
    return [AtpOut(**asdict(a)) for a in sf.atp(sku)]


@router.get("/atp/{sku}")
def sku_atp(sf: Sf, sku: str) -> AtpOut:
    """Available-to-promise of one SKU, per location and in total."""
    return AtpOut(**asdict(sf.atp([sku])[0]))


@router.get("/verify")
def run_verify(sf: Sf) -> VerifyOut:
    """Recompute I1-I3 from the ledger and allocations; ``ok`` is false when anything drifted."""
    drift = sf.verify()
    return VerifyOut(ok=not drift, drift=[DriftOut(**asdict(d)) for d in drift])
