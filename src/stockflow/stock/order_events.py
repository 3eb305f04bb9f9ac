"""What an order's events need to say who may hear of them, and what it waits for.

Every order event names the order's channel and its sites: the locations
where it holds or held stock (an allocation not wholly released) or shipped
from. A partner limited to channels hears of its channels' orders; one
limited to sites, of the orders it sees there (as ``visibility`` lets it read
them). Features record order events with these, so each computes them the
same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, literal, select, union_all

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocations,
    channels,
    locations,
    orders,
    positions,
    shipments,
)
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.events import OrderBackordered, OrderPromised, WaitingLine


@dataclass(frozen=True, slots=True)
class OrderScope:
    """An order's channel and the locations it holds, held or shipped stock at."""

    channel: str
    sites: tuple[str, ...] = ()

    def at(self, *more: str) -> OrderScope:
        """The same, with more sites."""
        return OrderScope(self.channel, tuple(sorted({*self.sites, *more})))


def order_scopes(conn: Connection, order_ids: Iterable[str]) -> dict[str, OrderScope]:
    """Each order's channel and sites, read in one statement."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    channel = (
        select(orders.c.id, literal("c").label("side"), channels.c.code)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(among(orders.c.id, wanted))
    )
    held = (
        select(orders.c.id, literal("l").label("side"), locations.c.code)
        .join(allocations, allocations.c.reservation_id == orders.c.reservation_id)
        .join(positions, positions.c.id == allocations.c.position_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .where(among(orders.c.id, wanted), allocations.c.qty > allocations.c.released_qty)
    )
    shipped = (
        select(shipments.c.order_id, literal("l").label("side"), locations.c.code)
        .join(locations, locations.c.id == shipments.c.location_id)
        .where(among(shipments.c.order_id, wanted))
    )
    channel_of: dict[str, str] = {}
    sites: dict[str, set[str]] = defaultdict(set)
    for oid, side, code in conn.execute(union_all(channel, held, shipped)):
        if side == "c":
            channel_of[oid] = code
        else:
            sites[oid].add(code)
    return {oid: OrderScope(ch, tuple(sorted(sites[oid]))) for oid, ch in channel_of.items()}


def order_scope(conn: Connection, order_id: str) -> OrderScope:
    """One order's channel and sites."""
    return order_scopes(conn, [order_id]).get(order_id, OrderScope(""))


def waiting_lines(view: OrderView) -> tuple[WaitingLine, ...]:
    """The order's lines that wait for stock, with how many units each."""
    return tuple(WaitingLine(ln.line_no, ln.sku, ln.waiting) for ln in view.lines if ln.waiting)


def backordered(view: OrderView, scope: OrderScope) -> OrderBackordered | None:
    """The event saying the order waits for stock, if it does."""
    lines = waiting_lines(view)
    if not lines:
        return None
    return OrderBackordered(view.id, view.status, lines, channel=scope.channel, sites=scope.sites)


def record_waiting(conn: Connection, view: OrderView, scope: OrderScope, *, now: datetime) -> None:
    """Record ``order.backordered`` if the order waits for stock."""
    event = backordered(view, scope)
    if event is not None:
        record(conn, event, now=now)


def promised(
    order_id: str, promise: date | None, previous: date | None, scope: OrderScope
) -> OrderPromised:
    """The event saying an order's promise date was set or moved."""
    return OrderPromised(order_id, promise, previous, channel=scope.channel, sites=scope.sites)
