"""Routes for channels and their ring fences, customers, kits and incoming supply.

A marketplace sees its own channels only; another channel answers 404 as an
unknown one does. A caller limited to sites adds channels and supply at its
sites only.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from stockflow.api.deps import Sf
from stockflow.api.guard import Who, may
from stockflow.api.order_schemas import (
    ChannelIn,
    ChannelOut,
    CustomerIn,
    CustomerOut,
    FenceIn,
    FenceOut,
    KitIn,
    KitOut,
    SupplyIn,
    SupplyOut,
)
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.orders import queries as q
from stockflow.orders.order_refs import UnknownChannel, UnknownCustomer
from stockflow.orders.rules.parties import KitRecipe, NewChannel, NewCustomer
from stockflow.stock.queries.catalogue import sku_view
from stockflow.stock.rules.access import Action, Resource

router = APIRouter(tags=["channels and customers"])


@router.post(
    "/channels",
    dependencies=[may(Resource.CHANNELS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_channel(sf: Sf, body: ChannelIn, who: Who) -> ChannelOut:
    """Add a sales channel with its rules: priority, ship-from, backorder policy, holds."""
    sf.orders.add_channel(
        NewChannel(
            code=body.code,
            name=body.name,
            kind=body.kind,
            priority=body.priority,
            ship_from=tuple(body.ship_from),
            max_splits=body.max_splits,
            allow_partial=body.allow_partial,
            backorder_policy=body.backorder_policy,
            backorder_days=body.backorder_days,
            hold_over_value=body.hold_over_value,
            hold_new_customers=body.hold_new_customers,
        ),
        scope=who.scope,
    )
    return get_channel(sf, body.code.strip(), who)


@router.get("/channels", dependencies=[may(Resource.CHANNELS, Action.READ)])
def list_channels(sf: Sf, who: Who, limit: Limit = 100, cursor: Cursor = None) -> Page[ChannelOut]:
    """The channels the caller sees, highest priority first, with their rules and ring fences."""
    with sf.db.read() as conn:
        page = q.channel_page(conn, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[ChannelOut], page, ChannelOut.model_validate)


@router.get("/channels/{code}", dependencies=[may(Resource.CHANNELS, Action.READ)])
def get_channel(sf: Sf, code: str, who: Who) -> ChannelOut:
    """One channel with its rules and ring fences."""
    with sf.db.read() as conn:
        found = q.channel_view(conn, code, scope=who.scope)
    if found is None:
        raise UnknownChannel(f"no channel with code {code!r}", field="code")
    return ChannelOut.model_validate(found)


@router.put(
    "/channels/{code}/fences/{sku}/{location}", dependencies=[may(Resource.CHANNELS, Action.WRITE)]
)
def put_fence(sf: Sf, code: str, sku: str, location: str, body: FenceIn, who: Who) -> FenceOut:
    """Keep ``qty`` units of a SKU at a location for this channel only (0 lifts the fence)."""
    sf.orders.set_ring_fence(
        channel=code, sku=sku, location=location, qty=body.qty, scope=who.scope
    )
    return FenceOut(sku=sku, location=location, qty=body.qty)


@router.post(
    "/customers",
    dependencies=[may(Resource.CUSTOMERS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_customer(sf: Sf, body: CustomerIn) -> CustomerOut:
    """Add a customer; coordinates, when known, choose the nearest ship-from location."""
    sf.orders.add_customer(NewCustomer(**body.model_dump()))
    with sf.db.read() as conn:
        return CustomerOut.model_validate(q.customer_page(conn, code=body.code.strip(), limit=1)[0])


@router.get("/customers", dependencies=[may(Resource.CUSTOMERS, Action.READ)])
def list_customers(
    sf: Sf, who: Who, limit: Limit = 100, cursor: Cursor = None
) -> Page[CustomerOut]:
    """Customers in code order, a page at a time.

    A caller with a scope sees the customers of the orders it sees.
    """
    with sf.db.read() as conn:
        page = q.customer_page(conn, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[CustomerOut], page, CustomerOut.model_validate)


@router.get("/customers/{code}", dependencies=[may(Resource.CUSTOMERS, Action.READ)])
def get_customer(sf: Sf, code: str, who: Who) -> CustomerOut:
    """One customer (404 for one the caller's scope does not see)."""
    with sf.db.read() as conn:
        found = q.customer_page(conn, code=code, limit=1, scope=who.scope)
    if not found:
        raise UnknownCustomer(f"no customer with code {code!r}", field="code")
    return CustomerOut.model_validate(found[0])


@router.put("/skus/{code}/kit", dependencies=[may(Resource.CATALOGUE, Action.WRITE)])
def put_kit(sf: Sf, code: str, body: KitIn) -> KitOut:
    """Make a SKU a kit of components (replacing its earlier recipe)."""
    sf.orders.set_kit(KitRecipe(code, dict(body.components)))
    return get_kit(sf, code)


@router.get("/skus/{code}/kit", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def get_kit(sf: Sf, code: str) -> KitOut:
    """The components one unit of a kit takes (none: the SKU is not a kit)."""
    with sf.db.read() as conn:
        sku = sku_view(conn, code)
        return KitOut(kit=sku.code, components=q.kit_components_of(conn, sku.code))


@router.post(
    "/supply",
    dependencies=[may(Resource.PURCHASING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
)
def add_supply(sf: Sf, body: SupplyIn, who: Who) -> SupplyOut:
    """Record stock expected to arrive (an open purchase or transfer); it feeds promise dates."""
    supply_id = sf.orders.add_supply(
        kind=body.kind,
        reference=body.reference,
        sku=body.sku,
        location=body.location,
        qty=body.qty,
        expected_on=body.expected_on,
        scope=who.scope,
    )
    with sf.db.read() as conn:
        return SupplyOut.model_validate(q.supply_view(conn, supply_id))
