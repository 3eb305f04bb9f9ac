"""Routes for reservations: reserve, look up, release, consume."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from stockflow.api.deps import Actor, IdempotencyKey, Sf
from stockflow.api.guard import may
from stockflow.api.schemas import AllocationOut, CloseIn, Problem, ReservationIn, ReservationOut
from stockflow.stock.queries.reservations import ReservationView
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.commands import CloseLines, Reserve, ReserveLine

router = APIRouter(tags=["reservations"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Not enough stock; the body says how much is available"}
}
_CLOSED: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The reservation has nothing open"}
}


def reserve_command(body: ReservationIn, key: str | None) -> Reserve:
    """The command a reservation request asks for."""
    return Reserve(
        lines=tuple(ReserveLine(ln.sku, ln.qty, ln.location, ln.lot) for ln in body.lines),
        owner_ref=body.owner_ref,
        idempotency_key=key,
    )


def reservation_out(v: ReservationView) -> ReservationOut:
    """The response body for a reservation."""
    return ReservationOut(
        id=v.id,
        owner_ref=v.owner_ref,
        status=v.status,
        created_at=v.created_at,
        closed_at=v.closed_at,
        open_qty=v.open_qty,
        allocations=[
            AllocationOut(
                line_no=a.line_no,
                sku=a.sku,
                location=a.location,
                bin=a.bin,
                lot=a.lot,
                qty=a.qty,
                released=a.released,
                consumed=a.consumed,
                moved=a.moved,
                open=a.open,
            )
            for a in v.allocations
        ],
    )


@router.post(
    "/reservations",
    dependencies=[may(Resource.RESERVATIONS, Action.WRITE, limited=True)],
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
async def reserve(
    sf: Sf, body: ReservationIn, response: Response, key: IdempotencyKey = None
) -> ReservationOut:
    """Reserve every line or none; 409 with the available quantity when stock is short."""
    # Well-formed requests are answered by the fast lane (api/fast_lane.py) with
    # these same steps; this route documents the endpoint and words bad input.
    # Awaiting the desk, rather than blocking a worker thread on it, lets one
    # event loop keep hundreds of reservations in flight.
    view = await sf.reserve_async(reserve_command(body, key))
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return reservation_out(view)


@router.get(
    "/reservations/{reservation_id}", dependencies=[may(Resource.RESERVATIONS, Action.READ)]
)
def get_reservation(sf: Sf, reservation_id: str) -> ReservationOut:
    """One reservation with where its units are held."""
    return reservation_out(sf.reservation(reservation_id))


@router.post(
    "/reservations/{reservation_id}/release",
    dependencies=[may(Resource.RESERVATIONS, Action.WRITE)],
    responses=_CLOSED,
)
def release(sf: Sf, reservation_id: str, body: CloseIn, actor: Actor) -> ReservationOut:
    """Give units back to free stock (all that is open when no lines are given)."""
    cmd = CloseLines(reservation_id, dict(body.lines), actor=actor, reference=body.reference)
    return reservation_out(sf.release(cmd))


@router.post(
    "/reservations/{reservation_id}/consume",
    dependencies=[may(Resource.RESERVATIONS, Action.WRITE)],
    responses=_CLOSED,
)
def consume(sf: Sf, reservation_id: str, body: CloseIn, actor: Actor) -> ReservationOut:
    """Ship reserved units: they leave on hand and a ship move is written."""
    cmd = CloseLines(reservation_id, dict(body.lines), actor=actor, reference=body.reference)
    return reservation_out(sf.consume(cmd))
