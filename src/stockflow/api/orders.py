"""Routes for orders (capture, read, list, cancel, release, reject) and the exceptions queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import (
    Actor,
    IdempotencyKey,
    IdPath,
    Limit,
    Sf,
    created_cursor,
    decode_cursor,
    encode_cursor,
)
from stockflow.api.guard import may
from stockflow.api.order_schemas import (
    CancelIn,
    ExceptionOut,
    ExceptionPage,
    OrderIn,
    OrderOut,
    OrderPage,
    RejectIn,
)
from stockflow.api.schemas import Problem
from stockflow.errors import InvalidInput
from stockflow.stock.queries.exceptions import exception_page
from stockflow.stock.queries.orders import order_page
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn

router = APIRouter(tags=["orders"])

_CAPTURE: dict[int | str, dict[str, Any]] = {
    200: {"model": OrderOut, "description": "A replay: the order captured earlier"},
    409: {
        "model": Problem,
        "description": "The channel takes no backorders and stock is short; names the line",
    },
}
_TRANSITION: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The order cannot go that way from where it is"}
}


@router.post(
    "/orders",
    dependencies=[may(Resource.ORDERS, Action.WRITE, limited=True)],
    status_code=status.HTTP_201_CREATED,
    responses=_CAPTURE,
)
async def capture_order(
    sf: Sf, body: OrderIn, response: Response, actor: Actor, key: IdempotencyKey = None
) -> OrderOut:
    """Capture an order: allocated by the channel's rules, held, backordered, or refused.

    The same channel + ``external_id``, or the same ``Idempotency-Key``, answers
    200 with the order captured the first time and reserves nothing again.
    """
    # Awaiting the order desk, rather than blocking a worker thread on it, lets
    # one event loop keep many captures in flight for group commit.
    view = await sf.orders.capture_async(
        CaptureOrder(
            channel=body.channel,
            lines=tuple(OrderLineIn(ln.sku, ln.qty, ln.unit_price) for ln in body.lines),
            ship_to=body.ship_to,
            external_id=body.external_id,
            customer=body.customer,
            ship_to_latitude=body.ship_to_latitude,
            ship_to_longitude=body.ship_to_longitude,
            idempotency_key=key,
            actor=actor,
        )
    )
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return OrderOut.model_validate(view)


@router.get("/orders", dependencies=[may(Resource.ORDERS, Action.READ)])
def list_orders(
    sf: Sf,
    order_status: Annotated[str | None, Query(alias="status")] = None,
    channel: str | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> OrderPage:
    """Orders, newest first, optionally of one status or channel; ``next`` is the next page."""
    with sf.db.read() as conn:
        page = order_page(
            conn, status=order_status, channel=channel, before=created_cursor(cursor), limit=limit
        )
    last = page[-1] if len(page) == limit else None
    return OrderPage(
        items=[OrderOut.model_validate(v) for v in page],
        next=encode_cursor(f"{last.created_at.isoformat()}|{last.id}") if last else None,
    )


@router.get("/orders/{order_id}", dependencies=[may(Resource.ORDERS, Action.READ)])
def get_order(sf: Sf, order_id: str) -> OrderOut:
    """One order: its lines, where it stands, its promise date and why."""
    return OrderOut.model_validate(sf.orders.order(order_id))


@router.post(
    "/orders/{order_id}/cancel",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def cancel_order(sf: Sf, order_id: str, body: CancelIn, actor: Actor) -> OrderOut:
    """Cancel the order (or one line); what it held is free at once for waiting orders."""
    return OrderOut.model_validate(
        sf.orders.cancel(order_id, reason=body.reason, actor=actor, line_no=body.line_no)
    )


@router.post(
    "/orders/{order_id}/reallocate",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def reallocate_order(sf: Sf, order_id: str, actor: Actor) -> OrderOut:
    """Release what the order holds and allocate it again by the channel's current rules."""
    return OrderOut.model_validate(sf.orders.reallocate(order_id, actor=actor))


@router.post(
    "/orders/{order_id}/release-hold",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def release_hold(sf: Sf, order_id: str, actor: Actor) -> OrderOut:
    """Let a held order go on (409 when it is not on hold)."""
    return OrderOut.model_validate(sf.orders.release_hold(order_id, actor=actor))


@router.post(
    "/orders/{order_id}/reject",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def reject_order(sf: Sf, order_id: str, body: RejectIn, actor: Actor) -> OrderOut:
    """Turn a held order down: it is cancelled (409 when it is not on hold)."""
    return OrderOut.model_validate(sf.orders.reject(order_id, reason=body.reason, actor=actor))


@router.get("/exceptions", dependencies=[may(Resource.EXCEPTIONS, Action.READ)])
def list_exceptions(
    sf: Sf,
    state: str | None = None,
    kind: str | None = None,
    reference: str | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> ExceptionPage:
    """The exceptions queue both sides see, newest first; ``next`` is the next page."""
    raw = decode_cursor(cursor)
    if raw is not None and not raw.isdigit():
        raise InvalidInput("is not a cursor this API gave out", field="cursor")
    with sf.db.read() as conn:
        page = exception_page(
            conn, state=state, kind=kind, limit=limit, before=int(raw) if raw else None,
            reference=reference,
        )  # fmt: skip
    return ExceptionPage(
        items=[ExceptionOut.model_validate(e) for e in page],
        next=encode_cursor(page[-1].id) if len(page) == limit else None,
    )


@router.post(
    "/exceptions/{exception_id}/acknowledge",
    dependencies=[may(Resource.EXCEPTIONS, Action.WRITE)],
    responses=_TRANSITION,
)
def acknowledge_exception(sf: Sf, exception_id: IdPath) -> ExceptionOut:
    """Someone is on it (409 when it is resolved already)."""
    return ExceptionOut.model_validate(sf.orders.set_exception_state(exception_id, "acknowledged"))


@router.post(
    "/exceptions/{exception_id}/resolve", dependencies=[may(Resource.EXCEPTIONS, Action.WRITE)]
)
def resolve_exception(sf: Sf, exception_id: IdPath) -> ExceptionOut:
    """It is dealt with (resolving twice changes nothing)."""
    return ExceptionOut.model_validate(sf.orders.set_exception_state(exception_id, "resolved"))
