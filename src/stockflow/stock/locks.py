"""Every row lock stockflow takes on positions is built here, always in one order.

Two transactions that lock positions in the same order cannot deadlock. The
order is the position key: (sku, location, bin, lot). On SQLite the whole
database is locked by ``BEGIN IMMEDIATE``, so ``FOR UPDATE`` is left out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import ARRAY, BigInteger, Connection, Select, any_, bindparam, select

from stockflow.adapters.tables import positions

S = TypeVar("S", bound=Select[Any])

LOCK_ORDER = (positions.c.sku_id, positions.c.location_id, positions.c.bin_id, positions.c.lot_code)


def in_lock_order(query: S) -> S:
    """Order a query over positions by the lock order and lock the rows it returns."""
    return query.order_by(*LOCK_ORDER).with_for_update(of=positions)


def lock_positions(conn: Connection, position_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """Lock positions by id, in lock order; returns ``{id: (on_hand, allocated)}``.

    On PostgreSQL the ids travel as one array, so any number of them is one
    statement and one lock pass in order; SQLite (already holding the database
    lock) reads them in chunks.
    """
    if not position_ids:
        return {}
    columns = (positions.c.id, positions.c.on_hand, positions.c.allocated)
    ids = sorted(position_ids)
    if conn.dialect.name == "postgresql":
        wanted = bindparam("ids", ids, type_=ARRAY(BigInteger))
        rows = list(
            conn.execute(in_lock_order(select(*columns).where(positions.c.id == any_(wanted))))
        )
    else:
        rows = [
            r
            for start in range(0, len(ids), 5_000)
            for r in conn.execute(
                select(*columns).where(positions.c.id.in_(ids[start : start + 5_000]))
            )
        ]
    return {r.id: (int(r.on_hand), int(r.allocated)) for r in rows}
