"""A caller's scope as conditions the warehouse side's queries add to their WHERE.

Waves, shipments, purchase orders, receipts, transfers, counts and RMAs each
carry the location (or supplier, or order) that decides who sees them. An
unlimited side of a scope adds nothing: a caller without a scope runs the
very statement it always ran. A limited side adds an ``IN`` over the codes
the scope names, resolved inside the same statement, so a row outside the
scope is simply not found and the caller gets the answer an unknown id gets.

A location or supplier the caller names in a body is another matter: it is
refused with 403 naming the field, judged on the scope alone, so the answer
is the same whether or not such a thing exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, exists, or_, select

from stockflow.adapters.tables import (
    allocations,
    channels,
    locations,
    orders,
    positions,
    shipments,
    suppliers,
)
from stockflow.errors import Forbidden, UnknownLocation
from stockflow.stock.lookup import LocationRef, location_by_code
from stockflow.stock.queries.orders import UnknownOrder
from stockflow.stock.rules.access import Scope

Where = list[ColumnElement[bool]]


def _location_ids(codes: frozenset[str]) -> ColumnElement[bool]:
    return locations.c.code.in_(sorted(codes))


def seen(
    scope: Scope,
    *,
    location: ColumnElement[int] | Sequence[ColumnElement[int]] | None = None,
    supplier: ColumnElement[int] | None = None,
    order: ColumnElement[str] | None = None,
) -> Where:
    """Conditions keeping a query's rows to those ``scope`` lets a caller see.

    ``location``: a location id column, or several (a transfer's two ends), of
    which one must be a location of the scope; ``supplier``: a supplier id
    column; ``order``: an order id column whose order must be of one of the
    scope's channels. Nothing is added for a side the scope does not limit.
    """
    where: Where = []
    if location is not None and scope.locations is not None:
        ids = select(locations.c.id).where(_location_ids(scope.locations))
        columns = [location] if isinstance(location, ColumnElement) else list(location)
        where.append(or_(*(c.in_(ids) for c in columns)))
    if supplier is not None and scope.suppliers is not None:
        ids = select(suppliers.c.id).where(suppliers.c.code.in_(sorted(scope.suppliers)))
        where.append(supplier.in_(ids))
    if order is not None and scope.channels is not None:
        ids = (
            select(orders.c.id)
            .join(channels, channels.c.id == orders.c.channel_id)
            .where(channels.c.code.in_(sorted(scope.channels)))
        )
        where.append(order.in_(ids))
    return where


def held_at(scope: Scope, order: ColumnElement[str]) -> Where:
    """Conditions keeping orders to those that are the business of the scope's locations.

    An order is a site's business once it holds, or held, units there (an
    allocation not wholly released: open, picked or shipped) or a shipment
    of it leaves from there.
    """
    if scope.locations is None:
        return []
    sites = select(locations.c.id).where(_location_ids(scope.locations))
    held = exists(
        select(allocations.c.id)
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(
            allocations.c.reservation_id == orders.c.reservation_id,
            allocations.c.qty > allocations.c.released_qty,
            positions.c.location_id.in_(sites),
        )
    )
    sent = exists(
        select(shipments.c.id).where(
            shipments.c.order_id == orders.c.id, shipments.c.location_id.in_(sites)
        )
    )
    return [order.in_(select(orders.c.id).where(or_(held, sent)))]


def check_order(conn: Connection, order_id: str, scope: Scope) -> None:
    """Refuse an order ``scope`` does not see exactly as an unknown one is refused.

    A supplier sees no order at all.
    """
    if scope.unlimited:
        return
    found = None
    if scope.suppliers is None:
        found = conn.execute(
            select(orders.c.id).where(
                orders.c.id == order_id,
                *seen(scope, order=orders.c.id),
                *held_at(scope, orders.c.id),
            )
        ).first()
    if found is None:
        raise UnknownOrder(f"no order {order_id!r}", field="order_id")


def location_ids(conn: Connection, scope: Scope) -> frozenset[int] | None:
    """The ids of the scope's locations; None when it does not limit them."""
    if scope.locations is None:
        return None
    rows = conn.execute(select(locations.c.id).where(_location_ids(scope.locations)))
    return frozenset(int(i) for i in rows.scalars())


def location_in_path(
    conn: Connection, code: str, scope: Scope, *, field: str = "location"
) -> LocationRef:
    """The location a path names; one outside ``scope`` is refused as an unknown one."""
    if not scope.sees_location(code):
        raise UnknownLocation(f"no location with code {code!r}", field=field)
    return location_by_code(conn, code, field=field)


def check_location(scope: Scope, code: str, *, field: str = "location") -> None:
    """Refuse a location named in a request body that ``scope`` does not reach."""
    if not scope.sees_location(code):
        raise Forbidden(f"{code!r} is not a location this caller may use", field=field)


def check_supplier(scope: Scope, code: str, *, field: str = "supplier") -> None:
    """Refuse a supplier named in a request body that ``scope`` does not reach."""
    if not scope.sees_supplier(code):
        raise Forbidden(f"{code!r} is not a supplier this caller may use", field=field)
