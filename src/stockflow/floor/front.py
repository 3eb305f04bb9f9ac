"""The Python front door for the floor: waves, picks, packing, shipping, tracking, documents.

Each method is one command in one transaction. A short pick records what it
took from which orders; once it has committed the composition root's handler
table retires their stale tasks, re-allocates them by the usual rules and puts
those that found stock back on the floor (this front door's reactions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.adapters.parcels import Parcel
from stockflow.floor import pick_tasks, picking, shipping, tracking
from stockflow.floor.documents.render import label_pdf, packing_slip_pdf, pick_list_pdf
from stockflow.floor.picking import WaveRequest
from stockflow.floor.queries import (
    ShipmentView,
    WaveSummary,
    WaveView,
    label_doc,
    load_shipment,
    load_wave,
    packing_slip_doc,
    pick_list_doc,
    wave_page,
)
from stockflow.floor.shipping import Dispatch
from stockflow.stock.lookup import location_by_code
from stockflow.stock.queries.orders import order_statuses
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.events import AllocationsCarried, ShrinksHoldings, StockTakenBack
from stockflow.stock.rules.order_lifecycle import ShipmentStatus


@dataclass(frozen=True, slots=True)
class PickOutcome:
    """A confirmed pick; on a short pick, the orders that lost units and their status now."""

    task_id: int
    picked: int
    short: int
    orders: dict[str, str]


class Floor:
    """Warehouse floor work on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def _today(self) -> date:
        return self.clock().date()

    # waves and picking -------------------------------------------------------
    def release(
        self, order_ids: list[str], *, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> list[str]:
        """Release allocated orders to the floor, ready for a wave."""
        return self.db.run(
            lambda conn: picking.release_orders(
                conn, order_ids, actor=actor, now=self.clock(), scope=scope
            )
        )

    def build_wave(
        self, request: WaveRequest, *, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> WaveView | None:
        """Group orders at a location into a wave; None when no order is ready.

        A location outside ``scope`` is refused: 403 naming the field.
        """

        def work(conn: Connection) -> str | None:
            require_location(scope, request.location, field="location")
            location = location_by_code(conn, request.location)
            return picking.build_wave(
                conn, location.id, request, actor=actor, now=self.clock(), scope=scope
            )

        wave_id = self.db.run(work)
        return None if wave_id is None else self.wave(wave_id, scope=scope)

    def wave(self, wave_id: str, *, scope: Scope = EVERYWHERE) -> WaveView:
        """A wave with its tasks in walking order."""
        with self.db.read() as conn:
            return load_wave(conn, wave_id, scope=scope)

    def waves(
        self, *, location: str | None = None, status: str | None = None,
        after: str | None = None, limit: int = DEFAULT_PAGE, scope: Scope = EVERYWHERE,
    ) -> Page[WaveSummary]:  # fmt: skip
        """A page of waves, newest first, optionally of one location and status."""
        with self.db.read() as conn:
            return wave_page(
                conn, location=location, status=status, after=after, limit=limit, scope=scope
            )

    def confirm_pick(
        self, task_id: int, picked: int, *, actor: str = "system", left_in_bin: int = 0,
        scope: Scope = EVERYWHERE,
    ) -> PickOutcome:  # fmt: skip
        """Confirm a pick; fewer than asked is a short pick: bin corrected, order re-allocated.

        The re-allocation runs once the pick has committed, in a transaction of
        its own, like any backorder fill.
        """
        result = self.db.run(
            lambda conn: picking.confirm_pick(
                conn, task_id, picked, actor=actor, today=self._today(),
                now=self.clock(), left_in_bin=left_in_bin, scope=scope,
            )
        )  # fmt: skip
        lost = result.lost.on_floor if result.lost is not None else {}
        with self.db.read() as conn:
            statuses = order_statuses(conn, list(lost))
        return PickOutcome(result.task_id, result.picked, result.short, statuses)

    # reactions: the composition root's handler table runs these after commit -------------
    def retire_stale_tasks(self, events: Sequence[ShrinksHoldings]) -> None:
        """Orders hold fewer units: tasks that would send a picker for the rest are cancelled."""
        order_ids = {oid for event in events for oid in event.holders}
        if order_ids:
            self.db.run(lambda conn: pick_tasks.retire_tasks(conn, order_ids, self.clock()))

    def follow_carried(self, events: Sequence[AllocationsCarried]) -> None:
        """Promised units moved bins: pickers are sent to where they are now."""
        ids = sorted({a for event in events for a in event.allocation_ids})
        if ids:
            self.db.run(lambda conn: pick_tasks.follow_carried(conn, ids, self.clock()))

    def return_to_floor(self, events: Sequence[StockTakenBack]) -> None:
        """Orders a loss took off the floor that found stock again go back to a wave."""
        for event in events:
            self._return_to_floor(event)

    def _return_to_floor(self, taken: StockTakenBack) -> None:
        self.db.run(lambda conn: pick_tasks.return_to_floor(conn, taken, now=self.clock()))

    # packing and shipping ----------------------------------------------------
    def pack_scan(
        self, order_id: str, barcode: str, *, qty: int = 1, scope: Scope = EVERYWHERE
    ) -> ShipmentView:
        """Scan an item into the order's parcel; a wrong or extra item is refused."""
        shipment_id = self.db.run(
            lambda conn: shipping.pack_scan(
                conn, order_id, barcode, qty=qty, now=self.clock(), scope=scope
            )
        )
        return self.shipment(shipment_id, scope=scope)

    def add_package(
        self, shipment_id: str, parcel: Parcel, *, scope: Scope = EVERYWHERE
    ) -> ShipmentView:
        """Record a closed box with its weight and size."""
        self.db.run(
            lambda conn: shipping.add_package(
                conn, shipment_id, parcel, now=self.clock(), scope=scope
            )
        )
        return self.shipment(shipment_id, scope=scope)

    def ship(
        self, shipment_id: str, how: Dispatch, *, actor: str = "system",
        scope: Scope = EVERYWHERE,
    ) -> ShipmentView:  # fmt: skip
        """Book the carrier and ship: the allocation is consumed and the ship moves written."""
        self.db.run(
            lambda conn: shipping.ship(conn, shipment_id, how, actor=actor,
                                       now=self.clock(), scope=scope)
        )  # fmt: skip
        return self.shipment(shipment_id, scope=scope)

    def track(
        self, key: str, status: str, *, note: str | None = None, at: datetime | None = None,
        scope: Scope = EVERYWHERE,
    ) -> ShipmentStatus:  # fmt: skip
        """Record a carrier tracking update by shipment id or tracking number."""
        return self.db.run(
            lambda conn: tracking.track(
                conn, key, status, note_text=note, at=at or self.clock(),
                now=self.clock(), scope=scope,
            )
        )  # fmt: skip

    def shipment(self, key: str, *, scope: Scope = EVERYWHERE) -> ShipmentView:
        """A shipment by id or tracking number."""
        with self.db.read() as conn:
            return load_shipment(conn, key, scope=scope)

    # documents ---------------------------------------------------------------
    def pick_list_pdf(self, wave_id: str, *, scope: Scope = EVERYWHERE) -> bytes:
        """The wave's pick list as a PDF, in walking order."""
        return pick_list_pdf(pick_list_doc(self.wave(wave_id, scope=scope)))

    def packing_slip_pdf(self, shipment_id: str, *, scope: Scope = EVERYWHERE) -> bytes:
        """The shipment's packing slip as a PDF."""
        with self.db.read() as conn:
            shipment = load_shipment(conn, shipment_id, scope=scope)
            return packing_slip_pdf(packing_slip_doc(conn, shipment))

    def label_pdf(
        self, shipment_id: str, package_no: int = 1, *, scope: Scope = EVERYWHERE
    ) -> bytes:
        """One package's shipping label as a PDF, with the tracking number as Code 128."""
        with self.db.read() as conn:
            shipment = load_shipment(conn, shipment_id, scope=scope)
            return label_pdf(label_doc(conn, shipment, package_no))
