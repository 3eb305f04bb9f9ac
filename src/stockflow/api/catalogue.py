"""Routes for SKUs, locations, bins and safety buffers.

A caller limited to sites lists only its locations; a marketplace the sites
its channels ship from; a supplier none. A location outside the caller's
scope answers 404 as an unknown one does. A SKU's list price is shown only
to callers who see prices and set only by the roles that set them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from stockflow.api.deps import Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.api.schemas import (
    BinIn,
    BinOut,
    BufferIn,
    LocationIn,
    LocationOut,
    Problem,
    SkuIn,
    SkuOut,
    SkuPatch,
)
from stockflow.errors import Forbidden, InvalidInput
from stockflow.stock.queries import catalogue as q
from stockflow.stock.rules.access import Action, Principal, Resource
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku

router = APIRouter(tags=["catalogue"])

_PRICED: dict[int | str, dict[str, Any]] = {
    403: {
        "model": Problem,
        "description": "The caller's role may not change the catalogue, or may not set unit_price",
    }
}


def sku_out(view: q.SkuView, who: Principal) -> SkuOut:
    """The response body for a SKU, without its price for a caller who may not see prices."""
    return SkuOut.model_validate(view if who.sees_prices else view.without_prices())


@router.get("/skus", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_skus(sf: Sf, who: Who, limit: Limit = 100, cursor: Cursor = None) -> Page[SkuOut]:
    """SKUs in code order, a page at a time."""
    with sf.db.read() as conn:
        page = q.sku_page(conn, after=cursor, limit=limit)
    return page_of(Page[SkuOut], page, lambda s: sku_out(s, who))


@router.post(
    "/skus",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses={**_PRICED, **error_responses(409)},
)
def create_sku(sf: Sf, body: SkuIn, who: Who) -> SkuOut:
    """Add a SKU to the catalogue; ``unit_price`` only from a role that sets prices (else 403)."""
    if "unit_price" in body.model_fields_set:
        who.refuse_field("unit_price", who.sets_prices)
    sf.add_skus([NewSku(**body.model_dump())])
    return get_sku(sf, body.code.strip(), who)


@router.get("/skus/{code}", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def get_sku(sf: Sf, code: str, who: Who) -> SkuOut:
    """One SKU."""
    with sf.db.read() as conn:
        return sku_out(q.sku_view(conn, code), who)


@router.patch(
    "/skus/{code}", dependencies=[may(Resource.CATALOGUE, Action.WRITE)], responses=_PRICED
)
def patch_sku(sf: Sf, code: str, body: SkuPatch, who: Who) -> SkuOut:
    """Switch a SKU on or off and/or give it a new list price (only a role that sets prices)."""
    sent = body.model_fields_set
    if not sent:
        raise InvalidInput("send active, unit_price or both", field="active")
    if "unit_price" in sent:
        who.refuse_field("unit_price", who.sets_prices)
    sf.update_sku(code, active=body.active, unit_price=body.unit_price)
    return get_sku(sf, code, who)


@router.get("/locations", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_locations(
    sf: Sf, who: Who, limit: Limit = 100, cursor: Cursor = None
) -> Page[LocationOut]:
    """The locations the caller's scope reaches, in code order, a page at a time."""
    with sf.db.read() as conn:
        page = q.location_page(conn, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[LocationOut], page, LocationOut.model_validate)


@router.post(
    "/locations",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_location(sf: Sf, body: LocationIn, who: Who) -> LocationOut:
    """Add a location (it gets a default bin, MAIN); a caller with a scope may not (403)."""
    if not who.scope.unlimited:
        raise Forbidden("a caller limited to some locations, channels or suppliers adds no sites")
    sf.add_locations([NewLocation(**body.model_dump())])
    with sf.db.read() as conn:
        return LocationOut.model_validate(q.location_view(conn, body.code.strip()))


@router.get("/locations/{code}/bins", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_bins(
    sf: Sf, code: str, who: Who, limit: Limit = 100, cursor: Cursor = None
) -> Page[BinOut]:
    """The bins of a location in walking order (404 for one outside the caller's scope)."""
    with sf.db.read() as conn:
        page = q.bin_page(conn, code, after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[BinOut], page, BinOut.model_validate)


@router.post(
    "/locations/{code}/bins",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_bin(sf: Sf, code: str, body: BinIn, who: Who) -> BinOut:
    """Add a bin to a location (404 for one outside the caller's scope)."""
    sf.add_bins([NewBin(location=code, **body.model_dump())], scope=who.scope)
    return BinOut(
        location=code, code=body.code.strip(), zone=body.zone or None, sequence=body.sequence,
        role=body.role, capacity=body.capacity,
    )  # fmt: skip


@router.put(
    "/skus/{sku}/buffers/{location}",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def put_buffer(sf: Sf, sku: str, location: str, body: BufferIn, who: Who) -> None:
    """Keep a safety buffer of a SKU at a location out of ATP (404 outside the caller's scope)."""
    sf.set_buffer(sku=sku, location=location, qty=body.qty, scope=who.scope)
