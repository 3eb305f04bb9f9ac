"""``stock.changed``: the totals of every SKU and location a transaction touched, told once.

Whatever changes a position (a move, a reservation, an allocation, a release, a
shipment) marks it here with ``touched``. Nothing is read or written then: at
the end of the transaction's work one statement sums the touched SKUs'
positions at the touched locations (every bin and lot) and writes one outbox
row per (SKU, location). A group-committed batch of 500 reservations of one
SKU is one row, and the totals are those the transaction commits. The
statement builds the rows' JSON in the database, so it costs one round trip
however many positions were touched.

Two transactions may change different bins of one SKU and location at once,
without waiting for each other's row locks; each would then sum before the
other commits, and neither total would ever be true. So on PostgreSQL each
first takes a transaction lock per (SKU, location), in one order and after
every row lock it takes (so it cannot deadlock): the second sums once the
first has committed, and the last event told is the truth. The locks travel
with the statement that sums, in the same round trip. A transaction that
touched more positions than a lock table holds locks for (an import of a
whole catalogue) takes one lock over every pair instead: each transaction
that takes pair locks first holds that lock shared, so the bulk one sums
once those have committed, and they sum once it has. SQLite runs one writer
at a time. A writer whose write is the transaction's last change to stock
(a reservation batch) sends the write, the locks and the totals in one round
trip (``write_and_tell``).

``available`` is on hand less allocated: what the positions hold free.
Safety buffers, ring fences and expiry, which ATP also takes off, change
without a position changing (a new buffer, a passing day), so an event
could not keep them true; ATP is read from the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Insert,
    Select,
    String,
    Subquery,
    bindparam,
    cast,
    func,
    literal,
    select,
)

from stockflow.adapters import bulk, driver
from stockflow.adapters.outbox import before_commit
from stockflow.adapters.sets import among
from stockflow.adapters.tables import UtcDateTime, locations, outbox, positions, skus
from stockflow.stock.rules.events import StockChanged

_HOOK = "stock.changed"
_LOCKS = "stockflow:stock.changed"
"""The first half of the key of every such lock: no other lock of stockflow's has it."""
_EVERY_PAIR = "stockflow:stock.changed:every pair"
"""The first half of the key of the lock over every pair (the second is 0)."""
_MANY = 1_000
"""Positions past which a transaction takes the lock over every pair, not one per pair.

PostgreSQL keeps a transaction's locks in a table of fixed size (64 per
connection by default, shared): ten thousand pair locks can exhaust it.
"""


class _Touched:
    """The positions one transaction changed, told as totals before it commits."""

    __slots__ = ("ids", "now")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.now: datetime | None = None

    def __call__(self, conn: Connection) -> None:
        if not self.ids or self.now is None:
            return
        if conn.dialect.name != "postgresql":
            conn.execute(_rows("sqlite"), {"ids": sorted(self.ids), "now": self.now})
        else:
            driver.execute_all(conn, *self.told())
        self.ids.clear()

    def told(self) -> list[tuple[driver.Statement, dict[str, Any]]]:
        """PostgreSQL: the locks and the statement that writes the totals, with parameters."""
        ids = sorted(self.ids)
        rows = driver.prepare(_rows, "postgresql", lists=["ids"], params=["now"])
        told = (rows, {"ids": ids, "now": self.now})
        if len(ids) > _MANY:
            return [(driver.prepare(_every_pair, "postgresql", lists=()), {}), told]
        shared = driver.prepare(_every_pair_shared, "postgresql", lists=())
        locks = driver.prepare(_locks, "postgresql", lists=["ids"])
        return [(shared, {}), (locks, {"ids": ids}), told]


def touched(conn: Connection, position_ids: Iterable[int], *, now: datetime) -> None:
    """Mark positions this transaction changed: their totals go out once, before it commits."""
    hook = before_commit(conn, _HOOK, _Touched)
    hook.ids.update(position_ids)
    hook.now = now


def write_and_tell(
    conn: Connection, *steps: bulk.Insert | bulk.Increment, position_ids: Iterable[int],
    now: datetime,
) -> None:  # fmt: skip
    """``bulk.write`` the steps, and tell the totals of every position the transaction touched.

    For a writer whose steps are its transaction's last change to stock (a
    reservation batch): on PostgreSQL the write, the locks and the totals go
    in one round trip instead of two. Anything touched after it is told
    before commit as usual.
    """
    touched(conn, position_ids, now=now)
    if conn.dialect.name != "postgresql":
        bulk.write(conn, *steps)
        return
    hook = before_commit(conn, _HOOK, _Touched)
    write = bulk.statement(conn, *steps)
    driver.execute_all(conn, *([write] if write else []), *hook.told())
    hook.ids.clear()


def _pairs(dialect: str) -> Subquery:
    """The (SKU id, location id) pairs of the positions in list parameter ``ids``."""
    del dialect  # ``among`` renders itself per database
    wanted = among(positions.c.id, name="ids")
    query = select(positions.c.sku_id, positions.c.location_id).where(wanted).distinct()
    return query.subquery("w")


def _locks(dialect: str) -> Select[Any]:
    """A transaction lock per touched (SKU, location), taken in the order of their keys."""
    pairs = _pairs(dialect)
    key = func.hashtext(
        cast(pairs.c.sku_id, String) + literal("@") + cast(pairs.c.location_id, String)
    )
    lock = func.pg_advisory_xact_lock(func.hashtext(literal(_LOCKS)), key)
    return select(lock).select_from(pairs).order_by(key)


def _every_pair_shared(dialect: str) -> Select[Any]:
    """The lock over every pair, shared: taken before pair locks."""
    del dialect
    return select(func.pg_advisory_xact_lock_shared(func.hashtext(literal(_EVERY_PAIR)), 0))


def _every_pair(dialect: str) -> Select[Any]:
    """The lock over every pair, alone: a transaction too large for a lock per pair."""
    del dialect
    return select(func.pg_advisory_xact_lock(func.hashtext(literal(_EVERY_PAIR)), 0))


@cache
def _rows(dialect: str) -> Insert:
    """INSERT INTO outbox ... SELECT the touched SKUs' totals per location, as JSON rows."""
    if dialect == "postgresql":
        obj, array = func.json_build_object, func.json_build_array
    else:
        obj, array = func.json_object, func.json_array
    pairs = _pairs(dialect)
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
            bindparam("now", None, type_=UtcDateTime()),
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
