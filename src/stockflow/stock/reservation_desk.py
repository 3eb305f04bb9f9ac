"""The reservation desk: reservations group-committed, sold-out SKUs refused from a snapshot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from stockflow.adapters.database import Database, Line
from stockflow.adapters.desk import Desk
from stockflow.errors import InsufficientStock
from stockflow.stock.queries.reservations import ReservationView
from stockflow.stock.reservations import Outcome, check_reserve, refusals, reserve_many
from stockflow.stock.rules.commands import Reserve


class ReservationDesk(Desk[Reserve, ReservationView]):
    """Group-committed reservations, with a lock-free path for sold-out SKUs."""

    name = "reservation-desk"
    generic_plans = True  # the stock book by SKU codes, fences, inserts, replays by key

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        workers: int = 1,
        max_batch: int = 256,
        linger: float = 0.001,
    ) -> None:
        super().__init__(db, clock, workers=workers, max_batch=max_batch, linger=linger)
        self._dry: set[str] = set()

    def check(self, cmd: Reserve) -> None:
        check_reserve(cmd)

    def keyed(self, cmd: Reserve) -> bool:
        return cmd.idempotency_key is not None

    def run_batch(self, conn: Connection, cmds: list[Reserve]) -> list[Outcome]:
        return reserve_many(conn, cmds, today=self._clock().date(), now=self._clock())

    def shortcut(self, line: Line, cmds: list[Reserve]) -> list[Outcome] | None:
        """Only SKUs seen empty: refuse from a snapshot if the snapshot says no to all."""
        if not all(ln.sku in self._dry for cmd in cmds for ln in cmd.lines):
            return None
        return line.snapshot(lambda conn: refusals(conn, cmds, today=self._clock().date()))

    def settled(self, cmds: Sequence[Reserve], outcomes: Sequence[Outcome]) -> None:
        """Remember which SKUs just ran dry (a hint for ``shortcut``, never an answer)."""
        for cmd, outcome in zip(cmds, outcomes, strict=True):
            if isinstance(outcome, InsufficientStock):
                if outcome.available == 0 and outcome.location is None:
                    self._dry.add(outcome.sku)
            elif isinstance(outcome, ReservationView):
                self._dry.difference_update(line.sku for line in cmd.lines)
