"""The composition root: one place that wires database, desks, features and clock together.

``Stockflow`` is also the Python library's front door: the stock core's
(``stock.front.Stock``) with every feature's beside it. ``handler_table`` says
which reactions follow which event; they run after the commit that recorded
it, and nowhere else is a reaction of one feature called by another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stockflow.access.front import Access
from stockflow.adapters.database import Database
from stockflow.adapters.migrate import migrate
from stockflow.adapters.nats import JetStream
from stockflow.adapters.reactions import Handler, Reactions
from stockflow.config import Settings
from stockflow.counts.front import Counts
from stockflow.events.broker import NatsBroker
from stockflow.events.dispatch import Dispatcher
from stockflow.events.front import Events
from stockflow.events.relay import Relay, RelaySettings
from stockflow.events.webhook_front import Webhooks
from stockflow.events.webhook_rules import DEFAULT_OVERLAP
from stockflow.events.webhooks import fan_out
from stockflow.floor.front import Floor
from stockflow.orders.front import Orders
from stockflow.receiving.front import Receiving
from stockflow.returns.front import Returns
from stockflow.stock.exports import CORE_EXPORTS, Exports
from stockflow.stock.front import Stock
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


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class Stockflow(Stock):
    """A running stockflow: the stock core's front door, every feature's, and their wiring."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        reservation_workers: int = 0,
        webhook_overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        super().__init__(db, clock, reservation_workers=reservation_workers)
        self.orders = Orders(db, clock)
        self.transfers = Transfers(db, clock)
        self.counts = Counts(db, clock)
        self.receiving = Receiving(db, clock)
        self.floor = Floor(db, clock)
        self.returns = Returns(db, clock)
        self.access = Access(db, clock)
        self.events = Events(db, clock)
        self.webhooks = Webhooks(db, clock, overlap=webhook_overlap)
        self.exports = export_table()
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
        """Stop the desks and close connections."""
        super().close()
        self.orders.close()
        self.db.dispose()


def relay(sf: Stockflow, settings: Settings) -> Relay:
    """The event relay for ``sf``, with every way out the settings turn on."""
    broker = None
    if settings.nats_url:
        broker = NatsBroker(
            JetStream(
                settings.nats_url,
                stream=settings.nats_stream,
                subjects_prefix=settings.nats_subject_prefix,
                duplicate_window=timedelta(seconds=settings.nats_duplicate_window),
            )
        )
    dispatcher = Dispatcher(
        sf.db,
        sf.clock,
        schedule=settings.webhook_waits(),
        timeout=settings.webhook_timeout,
        concurrency=settings.webhook_concurrency,
    )
    return Relay(
        sf.db,
        sf.clock,
        settings=RelaySettings(
            batch=settings.relay_batch,
            poll=settings.relay_poll_seconds,
            retention=timedelta(hours=settings.event_retention_hours),
        ),
        fan_out=[fan_out],
        broker=broker,
        dispatcher=dispatcher,
    )


def export_table() -> Exports:
    """Everything that can be exported: the stock core's, then each feature's."""
    return Exports(CORE_EXPORTS)


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
