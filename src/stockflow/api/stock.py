"""Routes for moves, adjustments, positions, ATP and the ledger.

A caller limited to sites reads and moves stock at its sites only. A
marketplace reads positions and ATP as its channels would be allocated: at
the sites they ship from, less other channels' ring fences. The ledger and
verify's drift name other parties' orders, references and people, so a
caller limited to channels or suppliers may read neither (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import IdempotencyKey, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import MAX_PAGE, Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.api.schemas import (
    AdjustmentIn,
    AtpOut,
    DriftOut,
    MoveIn,
    MoveOut,
    PositionOut,
    Problem,
    VerifyOut,
)
from stockflow.errors import Forbidden, InvalidInput
from stockflow.stock.queries.atp import PositionView
from stockflow.stock.queries.ledger import ledger_page
from stockflow.stock.rules.access import Action, Principal, Resource, require_location
from stockflow.stock.rules.commands import Place, PostMove

router = APIRouter(tags=["stock"])


_OUT_OF_REACH: dict[int | str, dict[str, Any]] = {
    403: {
        "model": Problem,
        "description": "The caller's role may not do this, or not at a location it names",
    }
}
_NO_LEDGER: dict[int | str, dict[str, Any]] = {
    403: {
        "model": Problem,
        "description": "The role may not read the ledger, or a channel scope keeps it closed",
    }
}


def _reads_ledger(who: Principal) -> None:
    if not who.scope.reads_ledger:
        raise Forbidden("a caller limited to channels or suppliers may not read the ledger")


def _post(sf: Sf, cmd: PostMove, response: Response, who: Principal) -> MoveOut:
    record = sf.post_move(cmd, scope=who.scope)
    if record.replayed:
        response.status_code = status.HTTP_200_OK
    return MoveOut.model_validate(record)


@router.post(
    "/moves",
    dependencies=[may(Resource.ADJUSTMENTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
    responses={**_OUT_OF_REACH, **error_responses(409)},
)
def post_move(
    sf: Sf, body: MoveIn, response: Response, who: Who, key: IdempotencyKey = None
) -> MoveOut:
    """Post a ledger move: receipt, putaway, move, pick, ship, return, scrap, transfer.

    A caller limited to sites moves only from and to them (else 403 naming
    ``from.location`` or ``to.location``).
    """
    cmd = PostMove(
        sku=body.sku,
        qty=body.qty,
        reason=body.reason,
        source=Place(**body.source.model_dump()) if body.source else None,
        target=Place(**body.target.model_dump()) if body.target else None,
        actor=who.name,
        reference=body.reference,
        note=body.note,
        lot_expires_on=body.expires_on,
        idempotency_key=key,
    )
    return _post(sf, cmd, response, who)


@router.post(
    "/adjustments",
    dependencies=[may(Resource.ADJUSTMENTS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
    responses={**_OUT_OF_REACH, **error_responses(409)},
)
def post_adjustment(
    sf: Sf, body: AdjustmentIn, response: Response, who: Who, key: IdempotencyKey = None
) -> MoveOut:
    """Add (positive delta) or remove (negative delta) units at a position, with a reason.

    A caller limited to sites adjusts only at them (else 403 naming ``location``).
    """
    if body.delta == 0:
        raise InvalidInput("must not be 0", field="delta")
    require_location(who.scope, body.location, field="location")
    place = Place(body.location, body.bin, body.lot)
    cmd = PostMove(
        sku=body.sku,
        qty=abs(body.delta),
        reason=body.reason,
        source=place if body.delta < 0 else None,
        target=place if body.delta > 0 else None,
        actor=who.name,
        reference=body.reference,
        note=body.note,
        lot_expires_on=body.expires_on,
        idempotency_key=key,
    )
    return _post(sf, cmd, response, who)


@router.get(
    "/moves",
    dependencies=[may(Resource.LEDGER, Action.READ)],
    response_model_by_alias=True,
    responses=_NO_LEDGER,
)
def list_moves(
    sf: Sf, who: Who, sku: str | None = None, limit: Limit = 100, cursor: Cursor = None
) -> Page[MoveOut]:
    """The ledger, newest first (optionally of one SKU).

    A caller limited to sites reads the moves that left or reached them; one
    limited to channels or suppliers none (403): moves name other parties'
    orders, purchase orders and people.
    """
    _reads_ledger(who)
    with sf.db.read() as conn:
        page = ledger_page(conn, sku=sku, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[MoveOut], page, MoveOut.model_validate)


def position_out(p: PositionView) -> PositionOut:
    """A position as the API shows it: expired stock is never available."""
    return PositionOut(
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


@router.get("/positions", dependencies=[may(Resource.STOCK, Action.READ)])
def list_positions(
    sf: Sf,
    who: Who,
    sku: str | None = None,
    location: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PositionOut]:
    """Stock positions (SKU x location x bin x lot) with on hand, allocated and available.

    In key order: by SKU, location, bin and lot as each was added. A caller
    limited to sites sees its sites' positions; a marketplace those at the
    sites its channels ship from. A ``location`` outside them is 404, as an
    unknown one is. Every position at once: ``GET /exports/positions``.
    """
    page = sf.position_page(sku=sku, location=location, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[PositionOut], page, position_out)


@router.get("/atp", dependencies=[may(Resource.STOCK, Action.READ)])
def bulk_atp(
    sf: Sf,
    who: Who,
    sku: Annotated[
        list[str] | None,
        Query(max_length=MAX_PAGE, description="SKU codes; left out: every SKU with stock"),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AtpOut]:
    """Available-to-promise of several SKUs (or every SKU with stock), in SKU code order.

    Over the caller's sites when it is limited to some; for a marketplace, what
    its channels would be allocated: at their ship-from sites, less what other
    channels' ring fences keep back.
    """
    page = sf.atp_page(sku, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[AtpOut], page, AtpOut.model_validate)


@router.get("/atp/{sku}", dependencies=[may(Resource.STOCK, Action.READ)])
def sku_atp(sf: Sf, sku: str, who: Who) -> AtpOut:
    """Available-to-promise of one SKU, per location and in total (scoped as ``GET /atp``)."""
    return AtpOut.model_validate(sf.atp([sku], scope=who.scope)[0])


@router.get("/verify", dependencies=[may(Resource.LEDGER, Action.READ)], responses=_NO_LEDGER)
def run_verify(sf: Sf, who: Who) -> VerifyOut:
    """Recompute I1-I3 from the ledger and allocations; ``ok`` is false when anything drifted.

    A caller limited to sites hears of its sites' positions and of the orders
    and reservations it sees; one limited to channels or suppliers may not
    run it (403).
    """
    _reads_ledger(who)
    drift = sf.verify(scope=who.scope)
    return VerifyOut(ok=not drift, drift=[DriftOut.model_validate(d) for d in drift])
