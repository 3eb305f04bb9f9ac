"""The Python front door for the stock core: catalogue, moves, reservations, ATP and verify.

Each method is one command run in one transaction; reservations are
group-committed by the reservation desk. The composition root (``Stockflow``)
is this front door plus every feature's.

Methods take the caller's ``scope``: what it does not see is unknown to it, a
location it may not use is refused, and an unlimited scope costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from stockflow.adapters.database import Database
from stockflow.adapters.exporting import CHUNK
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.errors import Forbidden, InvalidInput
from stockflow.stock import catalogue
from stockflow.stock.checkpoints import Verification, verify_books
from stockflow.stock.closing import Closing, close_lines, release_reservation
from stockflow.stock.exports import CORE_EXPORTS, Exports, open_export
from stockflow.stock.ledger import MoveRecord, book_move
from stockflow.stock.queries import atp as atp_queries
from stockflow.stock.queries.reservations import ReservationView, load_reservation
from stockflow.stock.queries.verify import Drift
from stockflow.stock.reservation_desk import ReservationDesk
from stockflow.stock.rules.access import EVERYWHERE, Principal, Scope, require_location
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
        self.exports = Exports(CORE_EXPORTS)  # the composition root adds the features' exports

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

    def add_bins(self, items: list[NewBin], *, scope: Scope = EVERYWHERE) -> None:
        """Add bins to existing locations, all or none."""
        checked = [b.checked(row=_row(n, items)) for n, b in enumerate(items, start=1)]
        self.db.run(lambda conn: catalogue.add_bins(conn, checked, scope=scope))

    def set_sku_active(self, code: str, active: bool) -> None:
        """Switch a SKU on or off."""
        self.db.run(lambda conn: catalogue.set_sku_active(conn, code, active))

    def update_sku(
        self, code: str, *, active: bool | None = None, unit_price: Decimal | None = None
    ) -> None:
        """Switch a SKU on or off and/or give it a new list price (None leaves a field be)."""
        if unit_price is not None and unit_price < 0:
            raise InvalidInput("must not be negative", field="unit_price")
        self.db.run(
            lambda conn: catalogue.update_sku(conn, code, active=active, unit_price=unit_price)
        )

    def set_buffer(self, *, sku: str, location: str, qty: int, scope: Scope = EVERYWHERE) -> None:
        """Hold ``qty`` units of a SKU at a location back from ATP."""
        self.db.run(
            lambda conn: catalogue.set_buffer(
                conn, sku=sku, location=location, qty=qty, scope=scope
            )
        )

    # stock -----------------------------------------------------------------
    def post_move(self, cmd: PostMove, *, scope: Scope = EVERYWHERE) -> MoveRecord:
        """Post one ledger move and update the positions it touches.

        Stock that lands in a position gives waiting orders their chance. A
        caller limited to sites moves stock only from and to its sites.
        """
        if scope.locations is not None:
            if cmd.source is not None:
                require_location(scope, cmd.source.location, field="from.location")
            if cmd.target is not None:
                require_location(scope, cmd.target.location, field="to.location")
        return self.db.run(
            lambda conn: book_move(conn, cmd, now=self.clock()),
            idempotent=cmd.idempotency_key is not None,
        )

    def reserve(self, cmd: Reserve, *, scope: Scope = EVERYWHERE) -> ReservationView:
        """Reserve every line or none (group-committed with concurrent requests)."""
        if not scope.unlimited:
            _reserve_within(scope, cmd)
        return self.desk.call(cmd)

    async def reserve_async(self, cmd: Reserve, *, scope: Scope = EVERYWHERE) -> ReservationView:
        """``reserve`` for an event loop."""
        if not scope.unlimited:
            _reserve_within(scope, cmd)
        return await self.desk.call_async(cmd)

    def release(self, cmd: CloseLines, *, scope: Scope = EVERYWHERE) -> ReservationView:
        """Give reserved units back to free stock (and to waiting orders)."""
        return self.db.run(
            lambda conn: release_reservation(conn, cmd, now=self.clock(), scope=scope)
        )

    def consume(self, cmd: CloseLines, *, scope: Scope = EVERYWHERE) -> ReservationView:
        """Ship reserved units: allocated and on hand go down, a ship move is written."""
        return self.db.run(
            lambda conn: close_lines(conn, cmd, Closing.CONSUME, now=self.clock(), scope=scope)
        )

    # reading ---------------------------------------------------------------
    def reservation(self, reservation_id: str, *, scope: Scope = EVERYWHERE) -> ReservationView:
        """One reservation with its allocations."""
        with self.db.read() as conn:
            return load_reservation(conn, reservation_id, scope=scope)

    def atp(self, codes: Sequence[str], *, scope: Scope = EVERYWHERE) -> list[atp_queries.SkuAtp]:
        """Available-to-promise of these SKUs, per location and in total, in code order."""
        with self.db.read() as conn:
            return atp_queries.atp_for_skus(conn, codes, today=self.today(), scope=scope)

    def atp_page(
        self, codes: Sequence[str] | None = None, *, after: str | None = None,
        limit: int = DEFAULT_PAGE, scope: Scope = EVERYWHERE,
    ) -> Page[atp_queries.SkuAtp]:  # fmt: skip
        """A page of ATP in SKU code order: of ``codes``, or of every SKU with stock."""
        with self.db.read() as conn:
            return atp_queries.atp_page(
                conn, codes, today=self.today(), after=after, limit=limit, scope=scope
            )

    def positions(
        self, *, sku: str | None = None, location: str | None = None, scope: Scope = EVERYWHERE
    ) -> list[atp_queries.PositionView]:
        """Every position of a SKU and/or location (of all, when neither is named), unpaged.

        For a list that may be long, ``position_page`` or the positions export.
        """
        with self.db.read() as conn:
            return atp_queries.position_views(
                conn, today=self.today(), sku=sku, location=location, scope=scope
            )

    def position_page(
        self, *, sku: str | None = None, location: str | None = None, after: str | None = None,
        limit: int = DEFAULT_PAGE, scope: Scope = EVERYWHERE,
    ) -> Page[atp_queries.PositionView]:  # fmt: skip
        """A page of positions, optionally of one SKU and/or location, in key order."""
        with self.db.read() as conn:
            return atp_queries.position_page(
                conn, today=self.today(), sku=sku, location=location, after=after, limit=limit,
                scope=scope,
            )  # fmt: skip

    # exporting ---------------------------------------------------------------
    def export(
        self, name: str, who: Principal, *, fmt: str = "csv", chunk: int = CHUNK
    ) -> tuple[str, Iterator[bytes]]:
        """Export ``name`` (see ``exports``) as ``who`` may see it: media type, then the bytes.

        The caller is checked first; the rows are read as the bytes are taken.
        """
        return open_export(
            self.db, self.exports.get(name), who, fmt=fmt, today=self.today(), chunk=chunk
        )

    def verify(self, *, scope: Scope = EVERYWHERE) -> list[Drift]:
        """Drift between stored totals and the ledger / allocations (empty when all is well)."""
        return self.verify_books(scope=scope).drift

    def verify_books(
        self, *, full: bool = False, scope: Scope = EVERYWHERE, settle_timeout: float = 10.0
    ) -> Verification:
        """Check I1-I3 from the last checkpoint on (``full``: from the first move), and say how.

        With nothing amiss the checkpoint moves on to the moves just read;
        ``settle_timeout`` bounds the wait for ledger writers still running.
        """
        return verify_books(
            self.db, now=self.clock, full=full, scope=scope, settle_timeout=settle_timeout
        )


def _reserve_within(scope: Scope, cmd: Reserve) -> None:
    """Refuse a reservation the scope could not see once made.

    A reservation belongs to no channel or supplier, so a caller limited to
    those may make none (it captures orders instead); one limited to sites
    reserves at its sites, naming one on every line.
    """
    if scope.partner:
        raise Forbidden("a caller limited to channels or suppliers may not reserve stock")
    for i, line in enumerate(cmd.lines):
        require_location(scope, line.location, field=f"lines[{i}].location")
