"""Routes for orders (capture, read, list, cancel, release, reject) and the exceptions queue.

Every route reads and changes only what the caller's scope reaches: a
marketplace its channels' orders, a 3PL or a team limited to sites the orders
it ships. Anything else answers 404 exactly as an unknown id does. A caller
who may not see prices gets its orders without line prices and value.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import IdempotencyKey, IdPath, Sf
from stockflow.api.guard import Who, may
from stockflow.api.order_schemas import CancelIn, ExceptionOut, OrderIn, OrderOut, RejectIn
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.schemas import Problem
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.access import Action, Principal, Resource
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn

router = APIRouter(tags=["orders"])

_CAPTURE: dict[int | str, dict[str, Any]] = {
    200: {"model": OrderOut, "description": "A replay: the order captured earlier"},
    403: {
        "model": Problem,
        "description": "The caller's role may not capture orders, or not for that channel",
    },
    409: {
        "model": Problem,
        "description": "The channel takes no backorders and stock is short; names the line",
    },
}
_TRANSITION: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The order cannot go that way from where it is"}
}


def order_out(view: OrderView, who: Principal) -> OrderOut:
    """The response body for an order, without prices for a caller who may not see them."""
    return OrderOut.model_validate(view if who.sees_prices else view.without_prices())


@router.post(
    "/orders",
    dependencies=[may(Resource.ORDERS, Action.WRITE, limited=True)],
    status_code=status.HTTP_201_CREATED,
    responses=_CAPTURE,
)
async def capture_order(
    sf: Sf, body: OrderIn, response: Response, who: Who, key: IdempotencyKey = None
) -> OrderOut:
    """Capture an order: allocated by the channel's rules, held, backordered, or refused.

    The same channel + ``external_id``, or the same ``Idempotency-Key``, answers
    200 with the order captured the first time and reserves nothing again. A
    caller limited to channels captures only for them: another channel is 403
    naming ``channel``, whether or not it exists, and nothing is written.
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
            actor=who.name,
        ),
        scope=who.scope,
    )
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    return order_out(view, who)


@router.get("/orders", dependencies=[may(Resource.ORDERS, Action.READ)])
def list_orders(
    sf: Sf,
    who: Who,
    order_status: Annotated[str | None, Query(alias="status")] = None,
    channel: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[OrderOut]:
    """Orders the caller sees, newest first, maybe of one status or channel."""
    page = sf.orders.orders(
        status=order_status, channel=channel, after=cursor, limit=limit, scope=who.scope
    )
    return page_of(Page[OrderOut], page, lambda v: order_out(v, who))


@router.get("/orders/{order_id}", dependencies=[may(Resource.ORDERS, Action.READ)])
def get_order(sf: Sf, order_id: str, who: Who) -> OrderOut:
    """One order: its lines, where it stands, its promise date and why."""
    return order_out(sf.orders.order(order_id, scope=who.scope), who)


@router.post(
    "/orders/{order_id}/cancel",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def cancel_order(sf: Sf, order_id: str, body: CancelIn, who: Who) -> OrderOut:
    """Cancel the order (or one line); what it held is free at once for waiting orders."""
    view = sf.orders.cancel(
        order_id, reason=body.reason, actor=who.name, line_no=body.line_no, scope=who.scope
    )
    return order_out(view, who)


@router.post(
    "/orders/{order_id}/reallocate",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def reallocate_order(sf: Sf, order_id: str, who: Who) -> OrderOut:
    """Release what the order holds and allocate it again by the channel's current rules."""
    return order_out(sf.orders.reallocate(order_id, actor=who.name, scope=who.scope), who)


@router.post(
    "/orders/{order_id}/release-hold",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def release_hold(sf: Sf, order_id: str, who: Who) -> OrderOut:
    """Let a held order go on (409 when it is not on hold)."""
    return order_out(sf.orders.release_hold(order_id, actor=who.name, scope=who.scope), who)


@router.post(
    "/orders/{order_id}/reject",
    dependencies=[may(Resource.ORDERS, Action.WRITE)],
    responses=_TRANSITION,
)
def reject_order(sf: Sf, order_id: str, body: RejectIn, who: Who) -> OrderOut:
    """Turn a held order down: it is cancelled (409 when it is not on hold)."""
    view = sf.orders.reject(order_id, reason=body.reason, actor=who.name, scope=who.scope)
    return order_out(view, who)


@router.get("/exceptions", dependencies=[may(Resource.EXCEPTIONS, Action.READ)])
def list_exceptions(
    sf: Sf,
    who: Who,
    state: str | None = None,
    kind: str | None = None,
    reference: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ExceptionOut]:
    """The exceptions queue both sides see, newest first.

    A caller with a scope sees the exceptions about orders it sees; those
    about no order are for callers without one.
    """
    page = sf.orders.exceptions(
        state=state, kind=kind, limit=limit, after=cursor, reference=reference, scope=who.scope
    )
    return page_of(Page[ExceptionOut], page, ExceptionOut.model_validate)


@router.post(
    "/exceptions/{exception_id}/acknowledge",
    dependencies=[may(Resource.EXCEPTIONS, Action.WRITE)],
    responses=_TRANSITION,
)
def acknowledge_exception(sf: Sf, exception_id: IdPath, who: Who) -> ExceptionOut:
    """Someone is on it (409 when it is resolved already)."""
    view = sf.orders.set_exception_state(
        exception_id, "acknowledged", scope=who.scope, actor=who.name
    )
    return ExceptionOut.model_validate(view)


@router.post(
    "/exceptions/{exception_id}/resolve", dependencies=[may(Resource.EXCEPTIONS, Action.WRITE)]
)
def resolve_exception(sf: Sf, exception_id: IdPath, who: Who) -> ExceptionOut:
    """It is dealt with (resolving twice changes nothing)."""
    view = sf.orders.set_exception_state(exception_id, "resolved", scope=who.scope, actor=who.name)
    return ExceptionOut.model_validate(view)
