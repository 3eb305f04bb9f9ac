"""Routes for the floor: release, waves and pick lists, picks, packing, shipping, tracking."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import Field, StrictInt, model_validator

from stockflow.adapters.parcels import Parcel
from stockflow.api.deps import Actor, IdPath, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.schemas import Body, Code, Out, Problem
from stockflow.errors import Conflict
from stockflow.floor.picking import WaveRequest
from stockflow.floor.queries import ShipmentView
from stockflow.floor.shipping import Dispatch
from stockflow.stock.rules.access import Action, Principal, Resource
from stockflow.stock.rules.quantities import MAX_QUANTITY

router = APIRouter(tags=["floor"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Not possible from where the order or task is now"}
}
_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The document as PDF"}
}


class ReleaseIn(Body):
    order_ids: Annotated[list[str], Field(min_length=1, max_length=1000)]


class WaveIn(Body):
    location: Code
    max_orders: StrictInt = Field(default=20, ge=1, le=1000)
    cutoff: datetime | None = Field(default=None, description="Only orders captured before this")
    order_ids: Annotated[list[str], Field(max_length=1000)] = Field(default_factory=list)


class TaskOut(Out):
    id: int
    sequence: int
    bin: str
    sku: str
    sku_name: str
    lot: str | None
    qty: int
    picked: int
    short: int
    tote: str
    order_id: str
    order_ref: str = Field(description="The channel's order number, else a short id")
    status: str


class WaveOut(Out):
    id: str
    location: str
    status: str
    created_at: datetime
    tasks: list[TaskOut]


class PickIn(Body):
    picked: StrictInt = Field(ge=0, le=MAX_QUANTITY, description="Units taken from the bin")
    left_in_bin: StrictInt = Field(
        default=0, ge=0, le=MAX_QUANTITY, description="On a short pick: units the picker sees left"
    )


class PickOut(Out):
    task_id: int
    picked: int
    short: int
    orders: dict[str, str] = Field(description="Orders that lost units, with their new status")


class ScanIn(Body):
    barcode: Annotated[str, Field(min_length=1, max_length=64)]
    qty: StrictInt = Field(default=1, ge=1, le=MAX_QUANTITY)


class PackageIn(Body):
    weight_g: StrictInt = Field(ge=1, le=1_000_000)
    length_mm: StrictInt = Field(ge=1, le=10_000)
    width_mm: StrictInt = Field(ge=1, le=10_000)
    height_mm: StrictInt = Field(ge=1, le=10_000)


class ShipIn(Body):
    carrier: Annotated[str, Field(min_length=1, max_length=16)] = "flat"
    service: Annotated[str, Field(min_length=1, max_length=32)] = "standard"
    tracking_no: Annotated[str, Field(max_length=40)] | None = None
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = Field(
        default=None, description="What the carrier charged, for a hand booking (a cost)"
    )


class TrackingIn(Body):
    status: Annotated[str, Field(min_length=1, max_length=24)]
    note: Annotated[str, Field(max_length=500)] | None = None
    at: datetime | None = None


class RowOut(Out):
    """A body the query hands over as a plain tuple, its members in the order of these fields."""

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if isinstance(data, tuple):
            return dict(zip(cls.model_fields, data, strict=True))
        return data


class TrackingEventOut(RowOut):
    status: str
    at: datetime
    note: str | None


class ShipmentItemOut(RowOut):
    line_no: int
    sku: str
    qty: int


class PackageOut(RowOut):
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int


class ShipmentOut(Out):
    id: str
    order_id: str
    location: str
    status: str
    carrier: str | None
    service: str | None
    tracking_no: str | None
    amount: Decimal | None = Field(description="What the carrier charged")
    items: list[ShipmentItemOut]
    packages: list[PackageOut]
    events: list[TrackingEventOut]
    created_at: datetime
    shipped_at: datetime | None

    def seen_by(self, who: Principal) -> ShipmentOut:
        """The shipment as ``who`` may read it: all of it (the carrier's charge is set by
        whoever books the carrier, the floor's staff or the 3PL running the site)."""
        return self


@router.post(
    "/orders/release", dependencies=[may(Resource.FLOOR, Action.WRITE)], responses=_CONFLICT
)
def release_orders(sf: Sf, body: ReleaseIn, actor: Actor, who: Who) -> list[str]:
    """Release fully allocated orders to the warehouse floor."""
    return sf.floor.release(body.order_ids, actor=actor, scope=who.scope)


@router.post(
    "/waves",
    dependencies=[may(Resource.FLOOR, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
def create_wave(sf: Sf, body: WaveIn, actor: Actor, who: Who) -> WaveOut:
    """Group ready orders at a location into one wave with a pick list in walking order."""
    request = WaveRequest(body.location, body.max_orders, body.cutoff, tuple(body.order_ids))
    wave = sf.floor.build_wave(request, actor=actor, scope=who.scope)
    if wave is None:
        raise Conflict(f"no order at {body.location} is ready for a wave", field="location")
    return WaveOut.model_validate(wave)


class WaveSummaryOut(Out):
    id: str
    location: str
    status: str
    created_at: datetime
    orders: int
    open_tasks: int
    tasks: int


@router.get("/waves", dependencies=[may(Resource.FLOOR, Action.READ)])
def list_waves(
    sf: Sf,
    who: Who,
    location: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[WaveSummaryOut]:
    """Waves, newest first: how many orders, how many tasks still open."""
    found = sf.floor.waves(
        location=location, status=status, after=cursor, limit=limit, scope=who.scope
    )
    return page_of(Page[WaveSummaryOut], found, WaveSummaryOut.model_validate)


@router.get("/waves/{wave_id}", dependencies=[may(Resource.FLOOR, Action.READ)])
def get_wave(sf: Sf, wave_id: str, who: Who) -> WaveOut:
    """A wave with every task in walking order."""
    return WaveOut.model_validate(sf.floor.wave(wave_id, scope=who.scope))


@router.get(
    "/waves/{wave_id}/pick-list.pdf",
    dependencies=[may(Resource.FLOOR, Action.READ)],
    response_class=Response,
    responses=_PDF,
)
def pick_list(sf: Sf, wave_id: str, who: Who) -> Response:
    """The wave's open tasks as a printable pick list with SKU barcodes."""
    return Response(sf.floor.pick_list_pdf(wave_id, scope=who.scope), media_type="application/pdf")


@router.post(
    "/pick-tasks/{task_id}/confirm",
    dependencies=[may(Resource.FLOOR, Action.WRITE)],
    responses=_CONFLICT,
)
def confirm_pick(sf: Sf, task_id: IdPath, body: PickIn, actor: Actor, who: Who) -> PickOut:
    """Confirm a pick; fewer units than asked is a short pick: bin corrected, order re-allocated."""
    result = sf.floor.confirm_pick(
        task_id, body.picked, actor=actor, left_in_bin=body.left_in_bin, scope=who.scope
    )
    return PickOut.model_validate(result)


@router.post(
    "/orders/{order_id}/pack", dependencies=[may(Resource.FLOOR, Action.WRITE)], responses=_CONFLICT
)
def pack_scan(sf: Sf, order_id: str, body: ScanIn, who: Who) -> ShipmentOut:
    """Scan an item into the order's parcel; a wrong item or an extra unit is a 409."""
    view = sf.floor.pack_scan(order_id, body.barcode, qty=body.qty, scope=who.scope)
    return _shipment_out(view, who)


@router.post(
    "/shipments/{shipment_id}/packages",
    dependencies=[may(Resource.FLOOR, Action.WRITE)],
    responses=_CONFLICT,
)
def add_package(sf: Sf, shipment_id: str, body: PackageIn, who: Who) -> ShipmentOut:
    """Record a closed box with its weight (grams) and size (millimetres)."""
    parcel = Parcel(body.weight_g, body.length_mm, body.width_mm, body.height_mm)
    return _shipment_out(sf.floor.add_package(shipment_id, parcel, scope=who.scope), who)


@router.post(
    "/shipments/{shipment_id}/ship",
    dependencies=[may(Resource.FLOOR, Action.WRITE)],
    responses=_CONFLICT,
)
def ship(sf: Sf, shipment_id: str, body: ShipIn, actor: Actor, who: Who) -> ShipmentOut:
    """Book the carrier, consume the allocation and write the ship moves."""
    how = Dispatch(body.carrier, body.service, body.tracking_no, body.amount)
    return _shipment_out(sf.floor.ship(shipment_id, how, actor=actor, scope=who.scope), who)


@router.post(
    "/shipments/{key}/tracking",
    dependencies=[may(Resource.FLOOR, Action.WRITE)],
    responses=_CONFLICT,
)
def track(sf: Sf, key: str, body: TrackingIn, who: Who) -> ShipmentOut:
    """A carrier's tracking update, by shipment id or tracking number."""
    sf.floor.track(key, body.status, note=body.note, at=body.at, scope=who.scope)
    return _shipment_out(sf.floor.shipment(key, scope=who.scope), who)


@router.get("/shipments/{key}", dependencies=[may(Resource.FLOOR, Action.READ)])
def get_shipment(sf: Sf, key: str, who: Who) -> ShipmentOut:
    """A shipment by id or tracking number."""
    return _shipment_out(sf.floor.shipment(key, scope=who.scope), who)


@router.get(
    "/shipments/{shipment_id}/packing-slip.pdf",
    dependencies=[may(Resource.FLOOR, Action.READ)],
    response_class=Response,
    responses=_PDF,
)
def packing_slip(sf: Sf, shipment_id: str, who: Who) -> Response:
    """The packing slip: lines ordered against lines in this shipment."""
    pdf = sf.floor.packing_slip_pdf(shipment_id, scope=who.scope)
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/shipments/{shipment_id}/label.pdf",
    dependencies=[may(Resource.FLOOR, Action.READ)],
    response_class=Response,
    responses=_PDF,
)
def label(
    sf: Sf, shipment_id: str, who: Who, package: Annotated[int, Query(ge=1, le=1000)] = 1
) -> Response:
    """One package's shipping label with the tracking number as a Code 128 barcode."""
    pdf = sf.floor.label_pdf(shipment_id, package, scope=who.scope)
    return Response(pdf, media_type="application/pdf")


def _shipment_out(view: ShipmentView, who: Principal) -> ShipmentOut:
    return ShipmentOut.model_validate(view).seen_by(who)
