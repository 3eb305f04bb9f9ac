"""Every row lock stockflow takes on positions is built here, always in one order.

Two transactions that lock positions in the same order cannot deadlock. The
order is the position key: (sku, location, bin, lot). On SQLite the whole
database is locked by ``BEGIN IMMEDIATE``, so ``FOR UPDATE`` is left out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import positions

S = TypeVar("S", bound=Select[Any])

LOCK_ORDER = (positions.c.sku_id, positions.c.location_id, positions.c.bin_id, positions.c.lot_code)


def in_lock_order(query: S) -> S:
    """Order a query over positions by the lock order and lock the rows it returns."""
    return query.order_by(*LOCK_ORDER).with_for_update(of=positions)


def lock_positions(conn: Connection, position_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """Lock positions by id, in lock order; returns ``{id: (on_hand, allocated)}``.

    The ids travel as one parameter (``sets.among``), so any number of them is
    one statement and one lock pass in order; SQLite already holds the
    database lock and takes no row locks.
    """
    if not position_ids:
        return {}
    columns = (positions.c.id, positions.c.on_hand, positions.c.allocated)
    query = in_lock_order(select(*columns).where(among(positions.c.id, position_ids)))
    return {r.id: (int(r.on_hand), int(r.allocated)) for r in conn.execute(query)}
