"""``stock.changed``: the totals of every SKU and location a transaction touched, told once.

Whatever changes a position (a move, a reservation, an allocation, a release, a
shipment) marks it here with ``touched``. Nothing is read or written then: at
the end of the transaction's work one statement sums the touched SKUs'
positions at the touched locations (every bin and lot) and writes one outbox
row per (SKU, location). A group-committed batch of 500 reservations of one
SKU is one row, and the totals are those the transaction commits, read under
the locks it holds. The statement builds the rows' JSON in the database, so it
costs one round trip however many positions were touched.

``available`` is on hand less allocated: what the positions hold free.
Safety buffers, ring fences and expiry, which ATP also takes off, change
without a position changing (a new buffer, a passing day), so an event
could not keep them true; ATP is read from the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Insert,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)

from stockflow.adapters.outbox import before_commit
from stockflow.adapters.tables import UtcDateTime, locations, outbox, positions, skus
from stockflow.stock.rules.events import StockChanged

_HOOK = "stock.changed"


class _Touched:
    """The positions one transaction changed, told as totals before it commits."""

    __slots__ = ("ids", "now")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.now: datetime | None = None

    def __call__(self, conn: Connection) -> None:
        if not self.ids or self.now is None:
            return
        dialect = conn.dialect.name
        ids: object = sorted(self.ids)
        if dialect != "postgresql":
            ids = json.dumps(ids)
        conn.execute(_statement(dialect), {"ids": ids, "now": self.now})


def touched(conn: Connection, position_ids: Iterable[int], *, now: datetime) -> None:
    """Mark positions this transaction changed: their totals go out once, before it commits."""
    hook = before_commit(conn, _HOOK, _Touched)
    hook.ids.update(position_ids)
    hook.now = now


@cache
def _statement(dialect: str) -> Insert:
    """INSERT INTO outbox ... SELECT the touched SKUs' totals per location, as JSON rows."""
    if dialect == "postgresql":
        wanted: Any = positions.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
        obj, array = func.json_build_object, func.json_build_array
    else:
        listed: Any = select(literal_column("value")).select_from(func.json_each(bindparam("ids")))
        wanted = positions.c.id.in_(listed)
        obj, array = func.json_object, func.json_array
    pairs = (
        select(positions.c.sku_id, positions.c.location_id).where(wanted).distinct().subquery("w")
    )
    totals = (
        select(
            positions.c.sku_id,
            positions.c.location_id,
            cast(func.sum(positions.c.on_hand), BigInteger).label("on_hand"),
            cast(func.sum(positions.c.allocated), BigInteger).label("allocated"),
        )
        .select_from(
            positions.join(
                pairs,
                (pairs.c.sku_id == positions.c.sku_id)
                & (pairs.c.location_id == positions.c.location_id),
            )
        )
        .group_by(positions.c.sku_id, positions.c.location_id)
        .subquery("t")
    )
    sku, location = skus.c.code, locations.c.code
    on_hand, allocated = totals.c.on_hand, totals.c.allocated
    fields: dict[str, Any] = {"sku": sku, "location": location, "on_hand": on_hand}
    fields.update(allocated=allocated, available=on_hand - allocated)
    payload = obj(*(part for pair in fields.items() for part in pair))
    rows = (
        select(
            literal(StockChanged.topic.value),
            literal(StockChanged.version),
            literal(StockChanged.aggregate),
            sku + literal("@") + location,
            obj("locations", array(location)),
            payload,
            bindparam("now", type_=UtcDateTime()),
        )
        .select_from(
            totals.join(skus, skus.c.id == totals.c.sku_id).join(
                locations, locations.c.id == totals.c.location_id
            )
        )
        .order_by(sku, location)
    )
    columns = ["topic", "version", "aggregate", "key", "scope", "payload", "created_at"]
    return outbox.insert().from_select(columns, rows)
