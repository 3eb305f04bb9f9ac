"""A caller's scope as SQL conditions, so every query that reads or changes a row applies it.

Each function answers ``None`` for an unlimited scope: the query is then
exactly what it was without scopes, with nothing joined and nothing added.
Otherwise it answers one condition to add to the query's WHERE; a row the
scope does not reach is simply not found, so lists leave it out and a single
read or a write answers "no such thing", word for word as for an unknown id.

What each side of a scope reaches:

- locations: stock (positions, moves, ATP) at those sites; the orders with an
  allocation (open or consumed) or a shipment there, the orders they must
  ship; reservations holding or having held stock there.
- channels: stock at the sites the channels ship from (every sellable site
  when a channel names none); the channels' own orders and those orders'
  reservations; the channels themselves.
- suppliers: no stock, orders, reservations, channels or exceptions; what a
  supplier may see is its purchase orders and notices, read elsewhere.

Exceptions and customers follow their orders: a caller with a scope sees
an exception about an order it sees (none about no order), and a customer
with an order it sees.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocations,
    channel_locations,
    channels,
    customers,
    exceptions,
    locations,
    orders,
    positions,
    reservations,
    shipments,
)
from stockflow.stock.rules.access import Scope
from stockflow.stock.rules.places import SELLABLE_KINDS

Condition = ColumnElement[bool]


def _all(conditions: list[Condition]) -> Condition | None:
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else and_(*conditions)


def _channel_ids(codes: frozenset[str]) -> Select[tuple[int]]:
    return select(channels.c.id).where(among(channels.c.code, codes))


def _location_ids(codes: frozenset[str]) -> Select[tuple[int]]:
    return select(locations.c.id).where(among(locations.c.code, codes))


def location_condition(scope: Scope, location_id: ColumnElement[int]) -> Condition | None:
    """Whether the location with id ``location_id`` is one whose stock the scope sees."""
    if scope.suppliers is not None:
        return false()
    conditions: list[Condition] = []
    if scope.locations is not None:
        conditions.append(location_id.in_(_location_ids(scope.locations)))
    if scope.channels is not None:
        conditions.append(_ships_from(scope.channels, location_id))
    return _all(conditions)


def sites_condition(scope: Scope, location_id: ColumnElement[int]) -> Condition | None:
    """Whether the location is one of the sites a scope is limited to (channels aside).

    For what is already known to be the caller's (a reservation it sees), the
    parts of it at other sites are still hidden from a caller limited to sites.
    """
    if scope.locations is None:
        return None
    return location_id.in_(_location_ids(scope.locations))


def _ships_from(codes: frozenset[str], location_id: ColumnElement[int]) -> Condition:
    """Whether one of these channels ships from the location; naming none, it ships from any."""
    wanted = among(channels.c.code, codes)
    named = (
        select(channel_locations.c.location_id)
        .join(channels, channels.c.id == channel_locations.c.channel_id)
        .where(wanted)
    )
    # Aliased, so that a query over channels itself never captures it.
    mine = channels.alias("ships_anywhere")
    names_none = exists(
        select(mine.c.id).where(
            among(mine.c.code, codes),
            ~exists(
                select(channel_locations.c.channel_id).where(
                    channel_locations.c.channel_id == mine.c.id
                )
            ),
        )
    )
    sellable = select(locations.c.id).where(
        locations.c.kind.in_(sorted(SELLABLE_KINDS)), names_none
    )
    return or_(location_id.in_(named), location_id.in_(sellable))


def _held_at(codes: frozenset[str], reservation_id: ColumnElement[str]) -> Condition:
    """Whether the reservation holds, or has held, units at one of these locations.

    An allocation counts unless it was wholly released: open units, consumed
    (shipped) units and units carried along to another bin all do.
    """
    # Aliased, so that a query over allocations itself never captures them.
    held, at = allocations.alias("held"), positions.alias("held_at")
    return exists(
        select(held.c.id)
        .join(at, at.c.id == held.c.position_id)
        .where(
            held.c.reservation_id == reservation_id,
            held.c.qty > held.c.released_qty,
            at.c.location_id.in_(_location_ids(codes)),
        )
    )


def order_condition(scope: Scope) -> Condition | None:
    """Whether a row of ``orders`` is one the scope sees."""
    if scope.unlimited:
        return None
    if scope.suppliers is not None:
        return false()
    conditions: list[Condition] = []
    if scope.channels is not None:
        conditions.append(orders.c.channel_id.in_(_channel_ids(scope.channels)))
    if scope.locations is not None:
        shipped = exists(
            select(shipments.c.id).where(
                shipments.c.order_id == orders.c.id,
                shipments.c.location_id.in_(_location_ids(scope.locations)),
            )
        )
        conditions.append(or_(_held_at(scope.locations, orders.c.reservation_id), shipped))
    return _all(conditions)


def reservation_condition(scope: Scope) -> Condition | None:
    """Whether a row of ``reservations`` is one the scope sees."""
    if scope.unlimited:
        return None
    if scope.suppliers is not None:
        return false()
    conditions: list[Condition] = []
    if scope.channels is not None:
        of_channels = select(orders.c.reservation_id).where(
            orders.c.channel_id.in_(_channel_ids(scope.channels))
        )
        conditions.append(reservations.c.id.in_(of_channels))
    if scope.locations is not None:
        conditions.append(_held_at(scope.locations, reservations.c.id))
    return _all(conditions)


def exception_condition(scope: Scope) -> Condition | None:
    """Whether a row of ``exceptions`` is one the scope sees: its order is."""
    seen = order_condition(scope)
    if seen is None:
        return None
    return exceptions.c.order_id.in_(select(orders.c.id).where(seen))


def customer_condition(scope: Scope) -> Condition | None:
    """Whether a row of ``customers`` is one the scope sees: it has an order the scope sees."""
    seen = order_condition(scope)
    if seen is None:
        return None
    return customers.c.id.in_(select(orders.c.customer_id).where(seen))


def channel_condition(scope: Scope) -> Condition | None:
    """Whether a row of ``channels`` is one the scope sees; sites do not limit channels."""
    if scope.suppliers is not None:
        return false()
    if scope.channels is None:
        return None
    return among(channels.c.code, scope.channels)
