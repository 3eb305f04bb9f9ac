"""Routes for suppliers, purchase orders, ASNs, receipts, putaway and quarantine decisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from stockflow.api.deps import Actor, IdempotencyKey, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.api.receiving_schemas import (
    AsnIn,
    AsnOut,
    HomeBinIn,
    HomeBinOut,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PutawayIn,
    PutawayOut,
    PutawaySuggestionOut,
    QuarantineReleaseIn,
    QuarantineScrapIn,
    ReceiptIn,
    ReceiptOut,
    SupplierIn,
    SupplierOut,
)
from stockflow.api.schemas import MoveOut
from stockflow.receiving.rules.purchasing import (
    AsnLineIn,
    NewAsn,
    NewPurchaseOrder,
    NewSupplier,
    POLineIn,
    ReceiptLineIn,
    Receive,
)
from stockflow.receiving.rules.putaway import ConfirmPutaway, QuarantineDecision
from stockflow.stock.rules.access import Action, Resource
from stockflow.stock.rules.quantities import MAX_QUANTITY

router = APIRouter(tags=["purchasing and receiving"])

_CREATED: dict[int | str, dict[str, Any]] = {
    200: {"description": "A replay: what the same Idempotency-Key did the first time"},
    **error_responses(409),
}


def _created(response: Response, replayed: bool) -> None:
    """201 for a new document, 200 for the answer to a retried request."""
    response.status_code = status.HTTP_200_OK if replayed else status.HTTP_201_CREATED


# suppliers ---------------------------------------------------------------------------


@router.post(
    "/suppliers",
    dependencies=[may(Resource.PURCHASING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def create_supplier(
    sf: Sf, body: SupplierIn, response: Response, who: Who, key: IdempotencyKey = None
) -> SupplierOut:
    """Add a supplier with its lead time; sending the same supplier again answers 200."""
    view = sf.receiving.add_supplier(NewSupplier(**body.model_dump()), scope=who.scope)
    _created(response, view.replayed)
    return SupplierOut.model_validate(view)


@router.get("/suppliers", dependencies=[may(Resource.PURCHASING, Action.READ)])
def list_suppliers(
    sf: Sf, who: Who, limit: Limit = 100, cursor: Cursor = None
) -> Page[SupplierOut]:
    """Suppliers in code order (a supplier sees itself), a page at a time."""
    page = sf.receiving.suppliers(after=cursor, limit=limit, scope=who.scope)
    return page_of(Page[SupplierOut], page, SupplierOut.model_validate)


@router.get("/suppliers/{code}", dependencies=[may(Resource.PURCHASING, Action.READ)])
def get_supplier(sf: Sf, code: str, who: Who) -> SupplierOut:
    """One supplier."""
    return SupplierOut.model_validate(sf.receiving.supplier(code, scope=who.scope))


# purchase orders ---------------------------------------------------------------------


@router.post(
    "/purchase-orders",
    dependencies=[may(Resource.PURCHASING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def create_purchase_order(
    sf: Sf, body: PurchaseOrderIn, response: Response, who: Who, key: IdempotencyKey = None
) -> PurchaseOrderOut:
    """Place a purchase order; each line counts as supply for promise dates from now on."""
    who.refuse_field("lines[0].unit_cost", who.sets_costs)
    view = sf.receiving.place_order(
        NewPurchaseOrder(
            supplier=body.supplier,
            location=body.location,
            lines=tuple(POLineIn(ln.sku, ln.qty, ln.unit_cost) for ln in body.lines),
            expected_on=body.expected_on,
            reference=body.reference,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, view.replayed)
    return PurchaseOrderOut.model_validate(view).seen_by(who)


@router.get("/purchase-orders", dependencies=[may(Resource.PURCHASING, Action.READ)])
def list_purchase_orders(
    sf: Sf,
    who: Who,
    po_status: Annotated[str | None, Query(alias="status")] = None,
    supplier: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PurchaseOrderOut]:
    """Purchase orders, newest first, optionally of one status or supplier."""
    page = sf.receiving.purchase_orders(
        status=po_status, supplier=supplier, after=cursor, limit=limit, scope=who.scope
    )
    return page_of(
        Page[PurchaseOrderOut], page, lambda v: PurchaseOrderOut.model_validate(v).seen_by(who)
    )


@router.get("/purchase-orders/{po_id}", dependencies=[may(Resource.PURCHASING, Action.READ)])
def get_purchase_order(sf: Sf, po_id: str, who: Who) -> PurchaseOrderOut:
    """One purchase order: its lines, what arrived of each, and what is still to come."""
    view = sf.receiving.purchase_order(po_id, scope=who.scope)
    return PurchaseOrderOut.model_validate(view).seen_by(who)


@router.post(
    "/purchase-orders/{po_id}/close",
    dependencies=[may(Resource.PURCHASING, Action.WRITE)],
    responses=error_responses(409),
)
def close_purchase_order(
    sf: Sf, po_id: str, who: Who, key: IdempotencyKey = None
) -> PurchaseOrderOut:
    """Close the order: what it has not delivered is no longer expected (again: no change)."""
    view = sf.receiving.close_order(po_id, scope=who.scope)
    return PurchaseOrderOut.model_validate(view).seen_by(who)


@router.post(
    "/purchase-orders/{po_id}/cancel",
    dependencies=[may(Resource.PURCHASING, Action.WRITE)],
    responses=error_responses(409),
)
def cancel_purchase_order(
    sf: Sf, po_id: str, who: Who, key: IdempotencyKey = None
) -> PurchaseOrderOut:
    """Cancel an order not yet fully received (409 once it is received or closed)."""
    view = sf.receiving.cancel_order(po_id, scope=who.scope)
    return PurchaseOrderOut.model_validate(view).seen_by(who)


# ASNs and receipts ---------------------------------------------------------------------


@router.post(
    "/asns",
    dependencies=[may(Resource.ASNS, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def create_asn(
    sf: Sf, body: AsnIn, response: Response, who: Who, key: IdempotencyKey = None
) -> AsnOut:
    """Record an advance shipping notice: what a delivery against an open PO will hold.

    A supplier announces deliveries against its own purchase orders only.
    """
    view = sf.receiving.add_asn(
        NewAsn(
            po_id=body.po_id,
            lines=tuple(AsnLineIn(ln.po_line_no, ln.qty, ln.lot) for ln in body.lines),
            expected_on=body.expected_on,
            reference=body.reference,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, view.replayed)
    return AsnOut.model_validate(view)


@router.get("/asns/{asn_id}", dependencies=[may(Resource.ASNS, Action.READ)])
def get_asn(sf: Sf, asn_id: str, who: Who) -> AsnOut:
    """One ASN with its lines."""
    return AsnOut.model_validate(sf.receiving.asn(asn_id, scope=who.scope))


@router.post(
    "/receipts",
    dependencies=[may(Resource.RECEIVING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def create_receipt(
    sf: Sf,
    body: ReceiptIn,
    response: Response,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> ReceiptOut:
    """Book a delivery in, all or nothing: good units to the dock, damaged ones to quarantine.

    Over, short and damaged units against the ASN (or the PO's outstanding
    units) are listed and raised as ``receiving_discrepancy`` exceptions.
    """
    view = sf.receiving.receive(
        Receive(
            lines=tuple(
                ReceiptLineIn(
                    ln.sku, ln.received_qty, ln.damaged_qty, ln.lot, ln.expires_on, ln.po_line_no
                )
                for ln in body.lines
            ),
            po_id=body.po_id,
            asn_id=body.asn_id,
            location=body.location,
            note=body.note,
            actor=actor,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, view.replayed)
    return ReceiptOut.model_validate(view)


@router.get("/receipts/{receipt_id}", dependencies=[may(Resource.RECEIVING, Action.READ)])
def get_receipt(sf: Sf, receipt_id: str, who: Who) -> ReceiptOut:
    """One receipt with its lines and the discrepancies it raised."""
    return ReceiptOut.model_validate(sf.receiving.receipt(receipt_id, scope=who.scope))


# putaway and quarantine ------------------------------------------------------------------


@router.get(
    "/putaway/suggestion",
    dependencies=[may(Resource.RECEIVING, Action.READ)],
    responses=error_responses(409),
)
def suggest_putaway(
    sf: Sf,
    who: Who,
    location: str,
    sku: str,
    qty: Annotated[int, Query(gt=0, le=MAX_QUANTITY, description="Units to put away")],
    lot: str | None = None,
) -> PutawaySuggestionOut:
    """The storage bin to put units away in, and why (409 when no bin has room)."""
    found = sf.receiving.suggest_putaway(
        location=location, sku=sku, qty=qty, lot=lot, scope=who.scope
    )
    return PutawaySuggestionOut.model_validate(found)


@router.post(
    "/putaway",
    dependencies=[may(Resource.RECEIVING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def confirm_putaway(
    sf: Sf,
    body: PutawayIn,
    response: Response,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> PutawayOut:
    """Move units into the scanned storage bin; units promised to orders take their
    allocations along. A scan other than the suggestion is allowed and noted on the move.
    """
    view = sf.receiving.confirm_putaway(
        ConfirmPutaway(
            body.location,
            body.sku,
            body.qty,
            body.to_bin,
            lot=body.lot,
            from_bin=body.from_bin,
            actor=actor,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, view.replayed)
    return PutawayOut.model_validate(view)


@router.put(
    "/locations/{location}/home-bins/{sku}", dependencies=[may(Resource.RECEIVING, Action.WRITE)]
)
def put_home_bin(sf: Sf, location: str, sku: str, body: HomeBinIn, who: Who) -> HomeBinOut:
    """Make a storage bin the SKU's home at this location: putaway suggests it first."""
    sf.receiving.set_home_bin(location=location, sku=sku, bin_code=body.bin, scope=who.scope)
    return HomeBinOut(location=location, sku=sku, bin=body.bin)


@router.post(
    "/quarantine/release",
    dependencies=[may(Resource.RECEIVING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def release_from_quarantine(
    sf: Sf,
    body: QuarantineReleaseIn,
    response: Response,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> MoveOut:
    """Release quarantined units to a storage bin (a note says why); they become available."""
    record = sf.receiving.release_from_quarantine(
        QuarantineDecision(
            body.location,
            body.sku,
            body.qty,
            body.note,
            lot=body.lot,
            to_bin=body.to_bin,
            from_bin=body.from_bin,
            actor=actor,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, record.replayed)
    return MoveOut.model_validate(record)


@router.post(
    "/quarantine/scrap",
    dependencies=[may(Resource.RECEIVING, Action.WRITE)],
    status_code=status.HTTP_201_CREATED,
    responses=_CREATED,
)
def scrap_from_quarantine(
    sf: Sf,
    body: QuarantineScrapIn,
    response: Response,
    actor: Actor,
    who: Who,
    key: IdempotencyKey = None,
) -> MoveOut:
    """Write quarantined units off (a note says why)."""
    record = sf.receiving.scrap_from_quarantine(
        QuarantineDecision(
            body.location,
            body.sku,
            body.qty,
            body.note,
            lot=body.lot,
            from_bin=body.from_bin,
            actor=actor,
            idempotency_key=key,
        ),
        scope=who.scope,
    )
    _created(response, record.replayed)
    return MoveOut.model_validate(record)
