"""The Python front door for the stock core: catalogue, moves, reservations, ATP and verify.

Each method is one command run in one transaction; reservations are
group-committed by the reservation desk. The composition root (``Stockflow``)
is this front door plus every feature's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from stockflow.adapters.database import Database
from stockflow.stock import catalogue
from stockflow.stock.closing import Closing, close_lines, release_reservation
from stockflow.stock.ledger import MoveRecord, book_move
from stockflow.stock.queries import atp as atp_queries
from stockflow.stock.queries.reservations import ReservationView, load_reservation
from stockflow.stock.queries.verify import Drift, verify
from stockflow.stock.reservation_desk import ReservationDesk
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.commands import CloseLines, PostMove, Reserve


def _row(n: int, items: Sequence[object]) -> int | None:
    """Row numbers only mean something when there is more than one item."""
    return n if len(items) > 1 else None


class Stock:
    """The stock core on one database."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], *, reservation_workers: int = 0
    ) -> None:
        self.db = db
        self.clock = clock
        self.desk = ReservationDesk(db, clock, workers=reservation_workers or 1)

    def close(self) -> None:
        """Stop the reservation desk."""
        self.desk.close()

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
        self.db.run(lambda conn: catalogue.set_buffer(conn, sku=sku, location=location, qty=qty))

    # stock -----------------------------------------------------------------
    def post_move(self, cmd: PostMove) -> MoveRecord:
        """Post one ledger move and update the positions it touches.

        Stock that lands in a position gives waiting orders their chance.
        """
        return self.db.run(
            lambda conn: book_move(conn, cmd, now=self.clock()),
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
