"""The Python front door for transfers between locations.

Each method is one command in one transaction. Stock that lands at the
destination gives its waiting orders their chance in a transaction of its
own, right after the receipt commits; so does the news of stock on its way,
which may bring their promise dates forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.transfers.arrivals import ReceiveTransfer, receive_transfer
from stockflow.transfers.dispatch import ship_transfer
from stockflow.transfers.queries import TransferView, load_transfer, transfer_page
from stockflow.transfers.rules import ReceiveLine, ShipTransfer, TransferLineIn


class Transfers:
    """Transfers on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def _today(self) -> date:
        return self.clock().date()

    def ship(
        self, *, from_location: str, to_location: str, lines: Sequence[TransferLineIn],
        expected_on: date, actor: str = "system", idempotency_key: str | None = None,
        scope: Scope = EVERYWHERE,
    ) -> TransferView:  # fmt: skip
        """Send free units from one location to another; 409 with what is free when short."""
        cmd = ShipTransfer(
            from_location, to_location, tuple(lines), expected_on, actor, idempotency_key
        )
        return self.db.run(
            lambda conn: ship_transfer(
                conn, cmd, today=self._today(), now=self.clock(), scope=scope
            ),
            idempotent=idempotency_key is not None,
        )

    def receive(
        self, transfer_id: str, lines: Sequence[ReceiveLine], *, actor: str = "system",
        idempotency_key: str | None = None, scope: Scope = EVERYWHERE,
    ) -> TransferView:  # fmt: skip
        """Book what arrived; good units then go to the destination's waiting orders."""
        cmd = ReceiveTransfer(transfer_id, tuple(lines), actor, idempotency_key)
        return self.db.run(lambda conn: receive_transfer(conn, cmd, now=self.clock(), scope=scope))

    def transfer(self, transfer_id: str, *, scope: Scope = EVERYWHERE) -> TransferView:
        """One transfer with its lines."""
        with self.db.read() as conn:
            return load_transfer(conn, transfer_id, scope=scope)

    def transfers(
        self, *, status: str | None = None, location: str | None = None,
        limit: int = DEFAULT_PAGE, after: str | None = None, scope: Scope = EVERYWHERE,
    ) -> Page[TransferView]:  # fmt: skip
        """A page of transfers, newest first, optionally of one status or touching one location."""
        with self.db.read() as conn:
            return transfer_page(
                conn, status=status, location=location, limit=limit, after=after, scope=scope
            )
