"""A caller's scope as conditions on the warehouse side's rows.

Waves, shipments, purchase orders, receipts, transfers, counts and RMAs each
carry the location, the supplier or the order that decides who sees them;
``seen`` turns the scope into conditions on those columns, next to the
shared core's own in ``stock.visibility``. An unlimited side of a scope adds
nothing: a caller without a scope runs the very statement it always ran. A
row outside the scope is simply not found, so the caller gets the answer an
unknown id gets.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, or_, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import channels, locations, orders, suppliers
from stockflow.errors import Forbidden
from stockflow.stock.rules.access import Scope
from stockflow.stock.visibility import sites_condition

Where = list[ColumnElement[bool]]


def seen(
    scope: Scope,
    *,
    location: ColumnElement[int] | Sequence[ColumnElement[int]] | None = None,
    supplier: ColumnElement[int] | None = None,
    order: ColumnElement[str] | None = None,
) -> Where:
    """Conditions keeping a query's rows to those ``scope`` lets a caller see.

    ``location``: a location id column, or several (a transfer's two ends), of
    which one must be a site the scope is limited to; ``supplier``: a
    supplier id column; ``order``: an order id column whose order must be of
    one of the scope's channels. Nothing is added for a side the scope does
    not limit.
    """
    where: Where = []
    columns = [location] if isinstance(location, ColumnElement) else list(location or ())
    at_sites = [c for c in (sites_condition(scope, col) for col in columns) if c is not None]
    if at_sites:
        where.append(or_(*at_sites))
    if supplier is not None and scope.suppliers is not None:
        # Aliased, so that a query over suppliers itself never captures it.
        theirs = suppliers.alias("scope_suppliers")
        where.append(supplier.in_(select(theirs.c.id).where(among(theirs.c.code, scope.suppliers))))
    if order is not None and scope.channels is not None:
        of, by = orders.alias("scope_orders"), channels.alias("scope_channels")
        ids = (
            select(of.c.id)
            .join(by, by.c.id == of.c.channel_id)
            .where(among(by.c.code, scope.channels))
        )
        where.append(order.in_(ids))
    return where


def location_ids(conn: Connection, scope: Scope) -> frozenset[int] | None:
    """The ids of the sites the scope is limited to; None when it is not."""
    if scope.locations is None:
        return None
    found = conn.execute(select(locations.c.id).where(among(locations.c.code, scope.locations)))
    return frozenset(int(i) for i in found.scalars())


def require_supplier(scope: Scope, code: str, *, field: str) -> None:
    """Refuse a supplier named in a request that the scope does not reach.

    Judged on the scope alone, so the answer is the same whether or not such
    a supplier exists.
    """
    if not scope.sees_supplier(code):
        raise Forbidden(f"{code!r} is not a supplier this caller may use", field=field)
