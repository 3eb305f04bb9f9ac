"""The Python front door for returns: authorise, receive, inspect, close and cancel RMAs.

Each method is one command in one transaction. Units put back on the shelf
by an inspection are offered to waiting orders in a transaction of their own,
right after the inspection commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.returns import arrivals as return_arrivals
from stockflow.returns import authorisations as returns
from stockflow.returns.queries import ReturnView, load_return, return_page
from stockflow.returns.rules import (
    AuthoriseReturn,
    InspectReturn,
    ReceiveReturn,
)
from stockflow.stock.rules.access import EVERYWHERE, Scope


class Returns:
    """Returns (RMAs) on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def authorise(self, cmd: AuthoriseReturn, *, scope: Scope = EVERYWHERE) -> ReturnView:
        """Authorise shipped units of an order to come back; a repeated key gives the first RMA."""
        rma_id, replayed = self.db.run(
            lambda conn: returns.authorise_return(conn, cmd, now=self.clock(), scope=scope),
            idempotent=cmd.idempotency_key is not None,
        )
        return self._view(rma_id, replayed=replayed, scope=scope)

    def receive(self, cmd: ReceiveReturn, *, scope: Scope = EVERYWHERE) -> ReturnView:
        """Book arrived units into the returns bin: on hand, not available until inspected."""
        replayed = self.db.run(
            lambda conn: return_arrivals.receive_return(conn, cmd, now=self.clock(), scope=scope),
            idempotent=cmd.idempotency_key is not None,
        )
        return self._view(cmd.rma_id, replayed=replayed, scope=scope)

    def inspect(self, cmd: InspectReturn, *, scope: Scope = EVERYWHERE) -> ReturnView:
        """Give arrived units a disposition; restocked units go to waiting orders next."""
        done = self.db.run(
            lambda conn: return_arrivals.inspect_return(conn, cmd, now=self.clock(), scope=scope),
            idempotent=cmd.idempotency_key is not None,
        )
        return self._view(cmd.rma_id, replayed=done.replayed, scope=scope)

    def close(self, rma_id: str, *, actor: str = "system", scope: Scope = EVERYWHERE) -> ReturnView:
        """Close a received RMA by hand once every arrived unit is inspected."""
        self.db.run(
            lambda conn: returns.close_return(
                conn, rma_id, actor=actor, now=self.clock(), scope=scope
            )
        )
        return self.rma(rma_id, scope=scope)

    def cancel(
        self, rma_id: str, *, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> ReturnView:
        """Cancel an RMA nothing has arrived for."""
        self.db.run(
            lambda conn: returns.cancel_return(
                conn, rma_id, actor=actor, now=self.clock(), scope=scope
            )
        )
        return self.rma(rma_id, scope=scope)

    def rma(self, rma_id: str, *, scope: Scope = EVERYWHERE) -> ReturnView:
        """One RMA with its lines, dispositions and refund suggestion."""
        with self.db.read() as conn:
            return load_return(conn, rma_id, scope=scope)

    def page(
        self,
        *,
        status: str | None = None,
        order_id: str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
        scope: Scope = EVERYWHERE,
    ) -> Page[ReturnView]:
        """A page of RMAs, newest first, optionally of one status or order."""
        with self.db.read() as conn:
            return return_page(
                conn, status=status, order_id=order_id, after=after, limit=limit, scope=scope
            )

    def _view(self, rma_id: str, *, replayed: bool, scope: Scope) -> ReturnView:
        view = self.rma(rma_id, scope=scope)
        return replace(view, replayed=True) if replayed else view
