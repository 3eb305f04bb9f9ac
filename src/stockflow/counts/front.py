"""The Python front door for cycle counts.

Each method is one command in one transaction. What a counter gets back is
blind: the sheet and each recorded line say where to count and what for,
never how many the books hold. Units a count finds give waiting orders their
chance in a transaction of their own, right after the count commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.counts.counting import (
    Decision,
    Found,
    Submit,
    approve_line,
    reject_line,
    report_found,
    submit_line,
)
from stockflow.counts.queries import (
    CountLineView,
    CountSheet,
    CountView,
    LocationAccuracy,
    SheetLine,
    accuracy_page,
    count_page,
    count_sheet,
    count_view,
    sheet_line,
)
from stockflow.counts.rules import CountScope, Decide, checked_tolerance
from stockflow.counts.scopes import NewCount, cancel_count, create_count
from stockflow.stock.rules.access import EVERYWHERE, Scope


class Counts:
    """Cycle counts on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def _today(self) -> date:
        return self.clock().date()

    def create(
        self, *, location: str, scope: CountScope, tolerance_pct: Decimal | int | str = 0,
        actor: str = "system", idempotency_key: str | None = None, within: Scope = EVERYWHERE,
    ) -> CountView:  # fmt: skip
        """Open a count of the bins ``scope`` covers; the supervisor's view of it.

        ``within`` is the caller's access scope (``scope`` being the count's
        own): a location outside it is refused by name.
        """
        cmd = NewCount(
            location, scope.checked(), checked_tolerance(tolerance_pct), actor, idempotency_key
        )
        return self.db.run(
            lambda conn: create_count(conn, cmd, now=self.clock(), within=within),
            idempotent=idempotency_key is not None,
        )

    def sheet(self, count_id: str, *, scope: Scope = EVERYWHERE) -> CountSheet:
        """The counter's blind sheet: bins, SKUs and lots in walking order, no quantities."""
        with self.db.read() as conn:
            return count_sheet(conn, count_id, scope=scope)

    def submit(
        self, count_id: str, line_no: int, counted: int, *, actor: str,
        idempotency_key: str | None = None, scope: Scope = EVERYWHERE,
    ) -> SheetLine:  # fmt: skip
        """Record what the counter found on one line; the line as the counter sees it."""
        cmd = Submit(count_id, line_no, counted, actor, retry=idempotency_key is not None)
        return self._blind(
            lambda conn: submit_line(conn, cmd, today=self._today(), now=self.clock(), scope=scope),
        )

    def report_found(
        self, count_id: str, *, bin: str, sku: str, counted: int, actor: str,
        lot: str | None = None, idempotency_key: str | None = None, scope: Scope = EVERYWHERE,
    ) -> SheetLine:  # fmt: skip
        """Count a SKU (and lot) found in a bin where the count has no line for it."""
        cmd = Found(count_id, bin, sku, counted, actor, lot, retry=idempotency_key is not None)
        return self._blind(
            lambda conn: report_found(
                conn, cmd, today=self._today(), now=self.clock(), scope=scope
            ),
        )

    def _blind(self, step: Callable[[Connection], Decision]) -> SheetLine:
        """Run a counting step; the line it touched as the counter sees it, marked as a replay
        when the step was one. Waiting orders get what it found once it commits.
        """

        def work(conn: Connection) -> SheetLine:
            done = step(conn)
            line = sheet_line(conn, done.count_id, done.line_no)
            return replace(line, replayed=done.replayed)

        return self.db.run(work)

    def approve(
        self, count_id: str, line_no: int, *, actor: str, idempotency_key: str | None = None,
        scope: Scope = EVERYWHERE,
    ) -> CountLineView:  # fmt: skip
        """Post a waiting variance (against what is on hand now); a second person decides."""
        cmd = Decide(count_id, line_no, actor, retry=idempotency_key is not None)
        _, line = self.db.run(
            lambda conn: self._with_line(
                conn,
                approve_line(conn, cmd, today=self._today(), now=self.clock(), scope=scope),
            )
        )
        return line

    def reject(
        self, count_id: str, line_no: int, *, actor: str, idempotency_key: str | None = None,
        scope: Scope = EVERYWHERE,
    ) -> CountLineView:  # fmt: skip
        """Keep the books and close a waiting line; a recount is a new count."""
        cmd = Decide(count_id, line_no, actor, retry=idempotency_key is not None)
        _, line = self.db.run(
            lambda conn: self._with_line(
                conn, reject_line(conn, cmd, now=self.clock(), scope=scope)
            )
        )
        return line

    @staticmethod
    def _with_line(conn: Connection, decision: Decision) -> tuple[Decision, CountLineView]:
        view = count_view(conn, decision.count_id)
        [line] = [ln for ln in view.lines if ln.line_no == decision.line_no]
        return decision, line

    def cancel(self, count_id: str, *, scope: Scope = EVERYWHERE) -> CountView:
        """Call off an open count whose variances are all decided."""
        return self.db.run(lambda conn: cancel_count(conn, count_id, now=self.clock(), scope=scope))

    def count(self, count_id: str, *, scope: Scope = EVERYWHERE) -> CountView:
        """The supervisor's view of a count: books at counting time, counts and variances."""
        with self.db.read() as conn:
            return count_view(conn, count_id, scope=scope)

    def counts(
        self, *, location: str | None = None, status: str | None = None,
        limit: int = DEFAULT_PAGE, after: str | None = None, scope: Scope = EVERYWHERE,
    ) -> Page[CountView]:  # fmt: skip
        """A page of counts, newest first (without their lines)."""
        with self.db.read() as conn:
            return count_page(
                conn, location=location, status=status, limit=limit, after=after, scope=scope
            )

    def accuracy(
        self, *, start: date, end: date, location: str | None = None, after: str | None = None,
        limit: int = DEFAULT_PAGE, scope: Scope = EVERYWHERE,
    ) -> Page[LocationAccuracy]:  # fmt: skip
        """Record accuracy per location (a page of them) of the lines counted in a date range."""
        with self.db.read() as conn:
            return accuracy_page(
                conn, start=start, end=end, location=location, after=after, limit=limit,
                scope=scope,
            )  # fmt: skip
