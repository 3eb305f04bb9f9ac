"""The Python front door for order management: channels, customers, orders and exceptions.

Each method is one command in one transaction. Whenever stock comes free (a
receipt, a release, a cancellation) waiting orders get their chance in a
transaction of their own, right after the one that freed it commits: the
composition root's handler table runs this front door's reactions for that.

Methods that read or change orders and exceptions take the caller's
``scope``: what it does not see is unknown to it, and a change it may make
answers with the order as it stands afterwards, seen or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.orders import backorders, order_flow, parties
from stockflow.orders.capture import OrderOutcome, capture_many
from stockflow.orders.order_desk import OrderDesk
from stockflow.orders.rules.parties import KitRecipe, NewChannel, NewCustomer
from stockflow.stock.exceptions import set_exception_state
from stockflow.stock.lookup import skus_by_code
from stockflow.stock.queries.exceptions import ExceptionView, exception_page
from stockflow.stock.queries.orders import OrderView, load_order, load_orders, order_page
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_channel, require_location
from stockflow.stock.rules.commands import CaptureOrder
from stockflow.stock.rules.events import (
    FreesStock,
    OrderCaptured,
    StockTakenBack,
    SupplyChanged,
)
from stockflow.stock.rules.order_lifecycle import WAITING


class Orders:
    """Order management on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self.desk = OrderDesk(db, clock)

    def close(self) -> None:
        """Stop the order desk."""
        self.desk.close()

    def _today(self) -> date:
        return self.clock().date()

    # set-up ------------------------------------------------------------------
    def add_channel(self, channel: NewChannel, *, scope: Scope = EVERYWHERE) -> None:
        """Add a sales channel with its rules.

        A caller limited to channels may add none (a new one is not among
        them); one limited to sites only a channel shipping from its sites.
        """
        checked = channel.checked()
        if not scope.unlimited:
            require_channel(scope, checked.code, field="code")
            if not checked.ship_from:
                require_location(scope, None, field="ship_from")
            for i, code in enumerate(checked.ship_from):
                require_location(scope, code, field=f"ship_from[{i}]")
        self.db.run(lambda conn: parties.add_channel(conn, checked, now=self.clock()))

    def add_customer(self, customer: NewCustomer) -> None:
        """Add a customer."""
        checked = customer.checked()
        self.db.run(lambda conn: parties.add_customer(conn, checked, now=self.clock()))

    def set_kit(self, recipe: KitRecipe) -> None:
        """Make a SKU a kit of components."""
        checked = recipe.checked()
        self.db.run(lambda conn: parties.set_kit(conn, checked))

    def set_ring_fence(
        self, *, channel: str, sku: str, location: str, qty: int, scope: Scope = EVERYWHERE
    ) -> None:
        """Keep units of a SKU at a location for one channel only."""
        self.db.run(
            lambda conn: parties.set_ring_fence(
                conn, channel=channel, sku=sku, location=location, qty=qty, scope=scope
            )
        )

    def add_supply(
        self, *, kind: str, reference: str, sku: str, location: str, qty: int, expected_on: date,
        scope: Scope = EVERYWHERE,
    ) -> int:  # fmt: skip
        """Record stock expected to arrive at a location the scope reaches (feeds promise dates)."""
        require_location(scope, location, field="location")
        return self.db.run(
            lambda conn: parties.add_supply(
                conn,
                kind=kind,
                reference=reference,
                sku=sku,
                location=location,
                qty=qty,
                expected_on=expected_on,
                now=self.clock(),
            )
        )

    # orders ------------------------------------------------------------------
    def capture(self, cmd: CaptureOrder, *, scope: Scope = EVERYWHERE) -> OrderView:
        """Capture one order: allocated, held, backordered, or refused (and nothing written).

        Concurrent captures are group-committed by the order desk. A channel
        the scope does not reach is refused before anything is looked up.
        """
        if not scope.unlimited:
            require_channel(scope, cmd.channel, field="channel")
        view = self.desk.call(cmd)
        return self.order(view.id) if _new_and_waiting(view) else view

    async def capture_async(self, cmd: CaptureOrder, *, scope: Scope = EVERYWHERE) -> OrderView:
        """``capture`` for an event loop."""
        if not scope.unlimited:
            require_channel(scope, cmd.channel, field="channel")
        view = await self.desk.call_async(cmd)
        if not _new_and_waiting(view):
            return view  # the usual case: nothing to look at again, so no thread to wait on
        return await asyncio.to_thread(self.order, view.id)

    def capture_many(self, cmds: Sequence[CaptureOrder]) -> list[OrderOutcome]:
        """Capture many orders in one transaction, each on its own."""
        keyed = any(c.idempotency_key or c.external_id for c in cmds)
        outcomes = self.db.run(
            lambda conn: capture_many(conn, cmds, today=self._today(), now=self.clock()),
            idempotent=keyed,
        )
        waiting = [o.id for o in outcomes if isinstance(o, OrderView) and _new_and_waiting(o)]
        if not waiting:
            return outcomes
        with self.db.read() as conn:
            fresh = load_orders(conn, waiting)
        return [fresh.get(o.id, o) if isinstance(o, OrderView) else o for o in outcomes]

    def order(self, order_id: str, *, scope: Scope = EVERYWHERE) -> OrderView:
        """One order with its lines and decisions."""
        return self.db.snapshot(lambda conn: load_order(conn, order_id, scope=scope))

    def orders(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
        scope: Scope = EVERYWHERE,
    ) -> Page[OrderView]:
        """A page of the orders the scope sees, newest first, after cursor ``after``.

        Read without a transaction around it (each statement sees what is
        committed as it runs, as in any read at this isolation level), which
        spares two round trips.
        """
        return self.db.snapshot(
            lambda conn: order_page(
                conn, status=status, channel=channel, after=after, limit=limit, scope=scope
            )
        )

    def cancel(
        self, order_id: str, *, reason: str, actor: str = "system", line_no: int | None = None,
        scope: Scope = EVERYWHERE,
    ) -> OrderView:  # fmt: skip
        """Cancel an order (or one line); its stock is free at once and goes to waiting orders."""
        self.db.run(
            lambda conn: order_flow.cancel_order(
                conn, order_id, reason=reason, actor=actor, now=self.clock(), line_no=line_no,
                scope=scope,
            )
        )  # fmt: skip
        return self.order(order_id)

    def reallocate(
        self, order_id: str, *, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> OrderView:
        """Release what the order holds and allocate it again by the current rules."""
        self.db.run(
            lambda conn: order_flow.reallocate_order(
                conn, order_id, actor=actor, now=self.clock(), scope=scope
            )
        )
        return self.order(order_id)

    def release_hold(
        self, order_id: str, *, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> OrderView:
        """Let a held order go on; stock that came in while it was held is offered to it now.

        A held order is passed over by backorder fills, so a receipt during the
        hold may have left free stock that it (or an order ahead of it) wants.
        """
        self.db.run(
            lambda conn: order_flow.release_hold(
                conn, order_id, actor=actor, now=self.clock(), scope=scope
            )
        )
        return self.order(order_id)

    def reject(
        self, order_id: str, *, reason: str, actor: str = "system", scope: Scope = EVERYWHERE
    ) -> OrderView:
        """Turn a held order down: it is cancelled and its stock goes to waiting orders."""
        self.db.run(
            lambda conn: order_flow.reject_order(
                conn, order_id, reason=reason, actor=actor, now=self.clock(), scope=scope
            )
        )
        return self.order(order_id)

    def fill_backorders(self, skus: set[str] | None = None) -> list[str]:
        """Give waiting orders (wanting these SKUs) what is free now; the ids that got stock."""
        return self.db.run(
            lambda conn: backorders.fill_backorders(
                conn, skus, today=self._today(), now=self.clock()
            )
        )

    # reactions: the composition root's handler table runs these after commit -------------
    def offer_free_stock(self, events: Sequence[FreesStock]) -> None:
        """Units came free (or an order stopped waiting in line): waiting orders get them."""
        wanted = {sku for event in events for sku in event.wanted}
        if wanted:
            self.fill_backorders(wanted)

    def look_again(self, events: Sequence[OrderCaptured]) -> None:
        """Offer free stock again to orders just captured as waiting.

        Units freed while a capture was deciding (a receipt or cancellation its
        locked book could not see yet) were offered to waiting orders before the
        new ones were visible; without this second look they would sit beside them.
        """
        wanted = {sku for event in events for sku in event.waiting}
        if not wanted:
            return
        free = self.db.snapshot(lambda conn: backorders.has_free_stock(conn, wanted))
        if free:
            self.fill_backorders(wanted)

    def repromise(self, events: Sequence[SupplyChanged]) -> None:
        """Supply moved: work out again when orders waiting for these SKUs get them."""
        wanted = {sku for event in events for sku in event.skus}
        if wanted:
            self.db.run(
                lambda conn: backorders.repromise_waiting(
                    conn,
                    {s.id for s in skus_by_code(conn, wanted).values()},
                    today=self._today(),
                    now=self.clock(),
                )
            )

    def promise_after_loss(self, events: Sequence[StockTakenBack]) -> None:
        """Tell each order a short pick or a count took units from where it stands now."""
        for event in events:
            self._promise_after_loss(event)

    def _promise_after_loss(self, taken: StockTakenBack) -> None:
        self.db.run(
            lambda conn: backorders.promise_after_loss(
                conn, taken, today=self._today(), now=self.clock()
            )
        )

    # exceptions ----------------------------------------------------------------
    def exceptions(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        limit: int = DEFAULT_PAGE,
        after: str | None = None,
        reference: str | None = None,
        scope: Scope = EVERYWHERE,
    ) -> Page[ExceptionView]:
        """A page of the exceptions queue as the scope sees it, newest first."""
        with self.db.read() as conn:
            return exception_page(
                conn, state=state, kind=kind, limit=limit, after=after, reference=reference,
                scope=scope,
            )  # fmt: skip

    def set_exception_state(
        self, exception_id: int, state: str, *, scope: Scope = EVERYWHERE, actor: str = "system"
    ) -> ExceptionView:
        """Acknowledge or resolve an exception; ``actor`` is who did it."""
        return self.db.run(
            lambda conn: set_exception_state(
                conn, exception_id, state, now=self.clock(), scope=scope, actor=actor
            )
        )

    def flag_late_and_stuck(self, *, stuck_hours: int = 24) -> int:
        """Raise exceptions for late backorders and stuck orders; how many were raised."""
        return self.db.run(
            lambda conn: order_flow.flag_late_and_stuck(
                conn, today=self._today(), now=self.clock(), stuck_hours=stuck_hours
            )
        )


def _new_and_waiting(view: OrderView) -> bool:
    """Whether the order was just captured (not replayed) and waits for stock.

    Its second look (``look_again``) has run by the time its caller hears back,
    so such an order is read again.
    """
    return view.status in WAITING and not view.replayed
