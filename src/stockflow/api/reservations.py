"""Routes for reservations: reserve, look up, release, consume.

A caller limited to sites reserves at its sites, naming one on every line,
and sees and closes the reservations holding (or having held) stock there,
only their allocations there; one limited to channels sees its orders'
reservations and makes none. Any other reservation answers 404 as an
unknown id does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from stockflow.api.deps import IdempotencyKey, Sf
from stockflow.api.guard import Who, may
from stockflow.api.schemas import AllocationOut, CloseIn, Problem, ReservationIn, ReservationOut
from stockflow.stock.queries.reservations import ReservationView
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.commands import CloseLines, Reserve, ReserveLine

router = APIRouter(tags=["reservations"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    403: {
        "model": Problem,
        "description": "The caller's role may not reserve, or not at a location it names",
    },
    409: {"model": Problem, "description": "Not enough stock; the body says how much is available"},
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
    sf: Sf, body: ReservationIn, response: Response, who: Who, key: IdempotencyKey = None
) -> ReservationOut:
    """Reserve every line or none; 409 with the available quantity when stock is short.

    A caller limited to sites names one of them on every line (else 403
    naming ``lines[i].location``); one limited to channels or a supplier may
    not reserve (403).
    """
    # Well-formed requests of unlimited callers are answered by the fast lane
    # (api/fast_lane.py) with these same steps; this route documents the
    # endpoint, words bad input and serves callers with a scope.
    # Awaiting the desk, rather than blocking a worker thread on it, lets one
    # event loop keep hundreds of reservations in flight.
    view = await sf.reserve_async(reserve_command(body, key), scope=who.scope)
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return reservation_out(view)


@router.get(
    "/reservations/{reservation_id}", dependencies=[may(Resource.RESERVATIONS, Action.READ)]
)
def get_reservation(sf: Sf, reservation_id: str, who: Who) -> ReservationOut:
    """One reservation with where its units are held."""
    return reservation_out(sf.reservation(reservation_id, scope=who.scope))


@router.post(
    "/reservations/{reservation_id}/release",
    dependencies=[may(Resource.RESERVATIONS, Action.WRITE)],
    responses=_CLOSED,
)
def release(sf: Sf, reservation_id: str, body: CloseIn, who: Who) -> ReservationOut:
    """Give units back to free stock (all that is open when no lines are given)."""
    cmd = CloseLines(reservation_id, dict(body.lines), actor=who.name, reference=body.reference)
    return reservation_out(sf.release(cmd, scope=who.scope))


@router.post(
    "/reservations/{reservation_id}/consume",
    dependencies=[may(Resource.RESERVATIONS, Action.WRITE)],
    responses=_CLOSED,
)
def consume(sf: Sf, reservation_id: str, body: CloseIn, who: Who) -> ReservationOut:
    """Ship reserved units: they leave on hand and a ship move is written."""
    cmd = CloseLines(reservation_id, dict(body.lines), actor=who.name, reference=body.reference)
    return reservation_out(sf.consume(cmd, scope=who.scope))
