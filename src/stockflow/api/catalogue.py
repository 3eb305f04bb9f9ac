"""Routes for SKUs, locations, bins and safety buffers."""

from __future__ import annotations

from fastapi import APIRouter, status

from stockflow.api.deps import Limit, Sf, decode_cursor, encode_cursor
from stockflow.api.guard import may
from stockflow.api.problems import error_responses
from stockflow.api.schemas import (
    BinIn,
    BinOut,
    BufferIn,
    LocationIn,
    LocationOut,
    SkuIn,
    SkuOut,
    SkuPage,
    SkuPatch,
)
from stockflow.stock.queries import catalogue as q
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku

router = APIRouter(tags=["catalogue"])


@router.get("/skus", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_skus(sf: Sf, limit: Limit = 100, cursor: str | None = None) -> SkuPage:
    """SKUs in code order; pass ``next`` back as ``cursor`` for the next page."""
    with sf.db.read() as conn:
        page = q.sku_page(conn, after=decode_cursor(cursor), limit=limit)
    items = [SkuOut.model_validate(s) for s in page]
    return SkuPage(items=items, next=encode_cursor(page[-1].code) if len(page) == limit else None)


@router.post(
    "/skus",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_sku(sf: Sf, body: SkuIn) -> SkuOut:
    """Add a SKU to the catalogue."""
    sf.add_skus([NewSku(**body.model_dump())])
    return get_sku(sf, body.code.strip())


@router.get("/skus/{code}", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def get_sku(sf: Sf, code: str) -> SkuOut:
    """One SKU."""
    with sf.db.read() as conn:
        return SkuOut.model_validate(q.sku_view(conn, code))


@router.patch("/skus/{code}", dependencies=[may(Resource.CATALOGUE, Action.WRITE)])
def patch_sku(sf: Sf, code: str, body: SkuPatch) -> SkuOut:
    """Switch a SKU on or off."""
    sf.set_sku_active(code, body.active)
    return get_sku(sf, code)


@router.get("/locations", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_locations(sf: Sf) -> list[LocationOut]:
    """Every location."""
    with sf.db.read() as conn:
        return [LocationOut.model_validate(x) for x in q.location_views(conn)]


@router.post(
    "/locations",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_location(sf: Sf, body: LocationIn) -> LocationOut:
    """Add a location (it gets a default bin, MAIN)."""
    sf.add_locations([NewLocation(**body.model_dump())])
    with sf.db.read() as conn:
        return next(
            LocationOut.model_validate(x)
            for x in q.location_views(conn)
            if x.code == body.code.strip()
        )


@router.get("/locations/{code}/bins", dependencies=[may(Resource.CATALOGUE, Action.READ)])
def list_bins(sf: Sf, code: str) -> list[BinOut]:
    """The bins of a location in walking order."""
    with sf.db.read() as conn:
        return [BinOut.model_validate(b) for b in q.bin_views(conn, code)]


@router.post(
    "/locations/{code}/bins",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409),
)
def create_bin(sf: Sf, code: str, body: BinIn) -> BinOut:
    """Add a bin to a location."""
    sf.add_bins([NewBin(location=code, **body.model_dump())])
    return BinOut(
        location=code, code=body.code.strip(), zone=body.zone or None, sequence=body.sequence,
        role=body.role, capacity=body.capacity,
    )  # fmt: skip


@router.put(
    "/skus/{sku}/buffers/{location}",
    dependencies=[may(Resource.CATALOGUE, Action.WRITE)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def put_buffer(sf: Sf, sku: str, location: str, body: BufferIn) -> None:
    """Keep a safety buffer of a SKU at a location out of ATP."""
    sf.set_buffer(sku=sku, location=location, qty=body.qty)
