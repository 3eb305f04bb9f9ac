"""The composition root: one place that wires database, desks, features and clock together.

``Stockflow`` is also the Python library's front door: each method is one
command run in one transaction. ``handler_table`` says which reactions follow
which event; they run after the commit that recorded it, and nowhere else is
a reaction of one feature called by another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from stockflow.adapters.database import Database
from stockflow.adapters.migrate import migrate
from stockflow.adapters.reactions import Handler, Reactions
from stockflow.counts.front import Counts
from stockflow.floor.front import Floor
from stockflow.orders.front import Orders
from stockflow.receiving.front import Receiving
from stockflow.returns.front import Returns
from stockflow.stock import catalogue
from stockflow.stock.closing import Closing, close_lines, release_reservation
from stockflow.stock.ledger import MoveRecord, book_move
from stockflow.stock.queries import atp as atp_queries
from stockflow.stock.queries.reservations import ReservationView, load_reservation
from stockflow.stock.queries.verify import Drift, verify
from stockflow.stock.reservation_desk import ReservationDesk
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.commands import CloseLines, PostMove, Reserve
from stockflow.stock.rules.events import (
    AllocationsCarried,
    HoldReleased,
    OrderCancelled,
    OrderCaptured,
    OrderReallocated,
    StockFreed,
    StockTakenBack,
    SupplyChanged,
)
from stockflow.transfers.front import Transfers


def _row(n: int, items: Sequence[object]) -> int | None:
    """Row numbers only mean something when there is more than one item."""
    return n if len(items) > 1 else None


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class Stockflow:
    """A running stockflow: the database plus the services that use it."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        reservation_workers: int = 0,
    ) -> None:
        self.db = db
        self.clock = clock
        workers = reservation_workers or 1
        self.desk = ReservationDesk(db, clock, workers=workers)
        self.orders = Orders(db, clock)
        self.transfers = Transfers(db, clock)
        self.counts = Counts(db, clock)
        self.receiving = Receiving(db, clock)
        self.floor = Floor(db, clock)
        self.returns = Returns(db, clock)
        self.reactions = Reactions(handler_table(self))
        db.on_commit(self.reactions)

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True, **options: object) -> Stockflow:
        """Connect to ``url`` and (by default) bring its schema up to date."""
        db = Database(url)
        if migrate_schema:
            migrate(db)
        return cls(db, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the reservation desk and close connections."""
        self.desk.close()
        self.orders.close()
        self.db.dispose()

    def today(self) -> date:
        """Today's date by this instance's clock (lot expiry is judged by it)."""
        return self.clock().date()

    # catalogue -------------------------------------------------------------
    def add_skus(self, items: list[NewSku]) -> None:
        """Add SKUs, all or none."""
        checked = [s.checked(row=_row(n, items)) for n, s in enumerate(items, start=1)]
        self.db.run(lambda conn: catalogue.add_skus(conn, checked, now=self.clock()))

    def add_locations(self, items: list[NewLocation]) -> None:
        """Add locations, each with its default bin, all or none."""
        checked = [x.checked(row=_row(n, items)) for n, x in enumerate(items, start=1)]
        self.db.run(lambda conn: catalogue.add_locations(conn, checked, now=self.clock()))

    def add_bins(self, items: list[NewBin]) -> None:
        """Add bins to existing locations, all or none."""
        checked = [b.checked(row=_row(n, items)) for n, b in enumerate(items, start=1)]
        self.db.run(lambda conn: catalogue.add_bins(conn, checked))

    def set_sku_active(self, code: str, active: bool) -> None:
        """Switch a SKU on or off."""
        self.db.run(lambda conn: catalogue.set_sku_active(conn, code, active))

    def set_buffer(self, *, sku: str, location: str, qty: int) -> None:
        """Hold ``qty`` units of a SKU at a location back from ATP."""
        self.db.run(
            lambda conn: catalogue.set_buffer(self.db, conn, sku=sku, location=location, qty=qty)
        )

    # stock -----------------------------------------------------------------
    def post_move(self, cmd: PostMove) -> MoveRecord:
        """Post one ledger move and update the positions it touches.

        Stock that lands in a position gives waiting orders their chance.
        """
        return self.db.run(
            lambda conn: book_move(self.db, conn, cmd, now=self.clock()),
            idempotent=cmd.idempotency_key is not None,
        )

    def reserve(self, cmd: Reserve) -> ReservationView:
        """Reserve every line or none (group-committed with concurrent requests)."""
        return self.desk.call(cmd)

    async def reserve_async(self, cmd: Reserve) -> ReservationView:
        """``reserve`` for an event loop."""
        return await self.desk.call_async(cmd)

    def release(self, cmd: CloseLines) -> ReservationView:
        """Give reserved units back to free stock (and to waiting orders)."""
        return self.db.run(lambda conn: release_reservation(conn, cmd, now=self.clock()))

    def consume(self, cmd: CloseLines) -> ReservationView:
        """Ship reserved units: allocated and on hand go down, a ship move is written."""
        return self.db.run(lambda conn: close_lines(conn, cmd, Closing.CONSUME, now=self.clock()))

    # reading ---------------------------------------------------------------
    def reservation(self, reservation_id: str) -> ReservationView:
        """One reservation with its allocations."""
        with self.db.read() as conn:
            return load_reservation(conn, reservation_id)

    def atp(self, codes: list[str] | None = None) -> list[atp_queries.SkuAtp]:
        """Available-to-promise per SKU and location (every SKU when ``codes`` is None)."""
        with self.db.read() as conn:
            return atp_queries.atp_for_skus(conn, codes, today=self.today())

    def positions(
        self, *, sku: str | None = None, location: str | None = None
    ) -> list[atp_queries.PositionView]:
        """Positions, optionally filtered by SKU and location."""
        with self.db.read() as conn:
            return atp_queries.position_views(conn, today=self.today(), sku=sku, location=location)

    def verify(self) -> list[Drift]:
        """Drift between stored totals and the ledger / allocations (empty when all is well)."""
        with self.db.read() as conn:
            return verify(conn)


def handler_table(sf: Stockflow) -> dict[type, list[Handler]]:
    """Which reactions follow which event, in the order they run.

    Every event after which waiting orders may get stock is here with
    ``offer_free_stock``; a test holds each such event to it.
    """
    orders, floor = sf.orders, sf.floor
    return {
        StockFreed: [orders.offer_free_stock],
        SupplyChanged: [orders.repromise],
        AllocationsCarried: [floor.follow_carried],
        OrderCaptured: [orders.look_again],
        OrderCancelled: [floor.retire_stale_tasks, orders.offer_free_stock],
        HoldReleased: [orders.offer_free_stock],
        OrderReallocated: [floor.retire_stale_tasks, orders.offer_free_stock],
        StockTakenBack: [
            floor.retire_stale_tasks,
            orders.offer_free_stock,
            floor.return_to_floor,
            orders.promise_after_loss,
        ],
    }
