"""Recompute invariants I1-I3 from the ledger and the allocations, and report drift.

I1 sums the ledger from a checkpoint on: each position's balance over the
moves up to the checkpoint is stored (``balance_checkpoints``), so the daily
check reads only the moves after it. From the checkpoint 0 it sums the whole
ledger, and ``checkpoint_drift`` checks the stored balances against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Subquery,
    cast,
    func,
    literal,
    select,
    union_all,
)

from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    balance_checkpoints,
    bins,
    locations,
    orders,
    positions,
    reservations,
    skus,
    stock_moves,
)
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.visibility import (
    location_condition,
    order_condition,
    reservation_condition,
)


@dataclass(frozen=True, slots=True)
class Drift:
    """One broken invariant at one position (or reservation)."""

    invariant: str
    subject: str
    expected: int
    actual: int
    message: str


def verify(conn: Connection, *, scope: Scope = EVERYWHERE, since: int = 0) -> list[Drift]:
    """Every place where stored totals disagree with the ledger or the open allocations.

    ``since``: the checkpoint's move id. On hand is then checked against the
    checkpoint's balance plus the moves after it; 0 sums the whole ledger.
    A caller limited to sites hears of the positions at its sites and of the
    reservations and orders it sees.
    """
    return [
        *_ledger_drift(conn, scope, since),
        *_oversold(conn, scope),
        *_allocation_drift(conn, scope),
        *_closed_but_open(conn, scope),
        *_finished_orders_holding(conn, scope),
    ]


def ledger_balances(*, after: int = 0, through: int | None = None) -> Subquery:
    """Per position, moves in less moves out over the moves after ``after`` up to ``through``.

    Columns ``pid`` and ``ledger``; a position without such moves has no row.
    """
    window: list[ColumnElement[bool]] = []
    if after:
        window.append(stock_moves.c.id > after)
    if through is not None:
        window.append(stock_moves.c.id <= through)
    flows = union_all(
        select(stock_moves.c.to_position_id.label("pid"), stock_moves.c.qty.label("q")).where(
            stock_moves.c.to_position_id.is_not(None), *window
        ),
        select(
            stock_moves.c.from_position_id.label("pid"), (literal(0) - stock_moves.c.qty).label("q")
        ).where(stock_moves.c.from_position_id.is_not(None), *window),
    ).subquery()
    # Summed as BIGINT: PostgreSQL widens sum(bigint) to NUMERIC, slow to compare row by row.
    ledger = cast(func.sum(flows.c.q), BigInteger).label("ledger")
    return select(flows.c.pid, ledger).group_by(flows.c.pid).subquery()


def moves_after(conn: Connection, since: int) -> int:
    """How many ledger rows come after move ``since``: what a check from there reads."""
    query = select(func.count()).select_from(stock_moves)
    if since:
        query = query.where(stock_moves.c.id > since)
    return int(conn.execute(query).scalar_one())


def checkpoint_drift(conn: Connection, *, through: int, scope: Scope = EVERYWHERE) -> list[Drift]:
    """Positions whose checkpointed balance is not the sum of their moves up to move ``through``."""
    totals = ledger_balances(through=through)
    kept = func.coalesce(balance_checkpoints.c.on_hand, 0)
    ledger = func.coalesce(totals.c.ledger, 0)
    query = (
        _positions_with(scope, kept.label("kept"), ledger.label("ledger"))
        .outerjoin(balance_checkpoints, balance_checkpoints.c.position_id == positions.c.id)
        .outerjoin(totals, totals.c.pid == positions.c.id)
        .where(kept != ledger)
    )
    return [
        Drift(
            "checkpoint",
            _label(r),
            int(r.ledger),
            int(r.kept),
            f"{_label(r)}: checkpoint through move {through} says {r.kept}, ledger says {r.ledger}",
        )
        for r in conn.execute(query)
    ]


def _label(row: object) -> str:
    sku, location, bin_code, lot = (getattr(row, k) for k in ("sku", "location", "bin", "lot_code"))
    return f"{sku} @ {location}/{bin_code}" + (f" lot {lot}" if lot else "")


def _positions_with(scope: Scope, *columns: ColumnElement[Any]) -> Select[Any]:
    query = (
        select(
            positions.c.id,
            skus.c.code.label("sku"),
            locations.c.code.label("location"),
            bins.c.code.label("bin"),
            positions.c.lot_code,
            *columns,
        )
        .join(skus, skus.c.id == positions.c.sku_id)
        .join(locations, locations.c.id == positions.c.location_id)
        .join(bins, bins.c.id == positions.c.bin_id)
    )
    return _within(query, location_condition(scope, positions.c.location_id))


def _within(query: Select[Any], seen: ColumnElement[bool] | None) -> Select[Any]:
    return query if seen is None else query.where(seen)


def _ledger_drift(conn: Connection, scope: Scope, since: int) -> list[Drift]:
    """I1: on hand equals moves in less moves out (the checkpoint's balance plus moves since)."""
    totals = ledger_balances(after=since)
    ledger: ColumnElement[Any] = func.coalesce(totals.c.ledger, 0)
    if since:
        ledger = func.coalesce(balance_checkpoints.c.on_hand, 0) + ledger
    query = _positions_with(scope, positions.c.on_hand, ledger.label("ledger"))
    if since:
        query = query.outerjoin(
            balance_checkpoints, balance_checkpoints.c.position_id == positions.c.id
        )
    query = query.outerjoin(totals, totals.c.pid == positions.c.id).where(
        positions.c.on_hand != ledger
    )
    return [
        Drift(
            "I1",
            _label(r),
            int(r.ledger),
            int(r.on_hand),
            f"{_label(r)}: on hand {r.on_hand}, ledger says {r.ledger}",
        )
        for r in conn.execute(query)
    ]


def _oversold(conn: Connection, scope: Scope) -> list[Drift]:
    """I2: allocated never exceeds on hand, unless the location allows negative stock."""
    query = _positions_with(scope, positions.c.on_hand, positions.c.allocated).where(
        positions.c.allocated > positions.c.on_hand, locations.c.allow_negative.is_(False)
    )
    return [
        Drift(
            "I2",
            _label(r),
            int(r.on_hand),
            int(r.allocated),
            f"{_label(r)}: allocated {r.allocated} exceeds on hand {r.on_hand}",
        )
        for r in conn.execute(query)
    ]


def _allocation_drift(conn: Connection, scope: Scope) -> list[Drift]:
    """I3: allocated equals the sum of open allocations at that position.

    Only rows still holding units are summed (a CHECK keeps what an allocation
    holds from going below 0): the long history of closed ones is skipped
    before anything is grouped or joined. The two checks below do the same.
    """
    open_qty = allocation_open_qty
    held = (
        select(allocations.c.position_id.label("pid"), func.sum(open_qty).label("held"))
        .where(open_qty > 0)
        .group_by(allocations.c.position_id)
        .subquery()
    )
    expected = func.coalesce(held.c.held, 0)
    query = _positions_with(scope, positions.c.allocated, expected.label("held"))
    query = query.outerjoin(held, held.c.pid == positions.c.id).where(
        positions.c.allocated != expected
    )
    return [
        Drift(
            "I3",
            _label(r),
            int(r.held),
            int(r.allocated),
            f"{_label(r)}: allocated {r.allocated}, open allocations hold {r.held}",
        )
        for r in conn.execute(query)
    ]


def _closed_but_open(conn: Connection, scope: Scope) -> list[Drift]:
    """I3: a closed reservation holds nothing."""
    open_qty = allocation_open_qty
    query = (
        select(reservations.c.id, func.sum(open_qty).label("held"))
        .join(allocations, allocations.c.reservation_id == reservations.c.id)
        .where(reservations.c.status == "closed", open_qty > 0)
        .group_by(reservations.c.id)
    )
    query = _within(query, reservation_condition(scope))
    return [
        Drift(
            "I3",
            f"reservation {r.id}",
            0,
            int(r.held),
            f"reservation {r.id} is closed but still holds {r.held}",
        )
        for r in conn.execute(query)
    ]


FINISHED_ORDER_STATES = ("cancelled", "closed", "shipped", "delivered")


def _finished_orders_holding(conn: Connection, scope: Scope) -> list[Drift]:
    """I3: a cancelled, closed or fully shipped order holds no stock (no ghost reservations)."""
    open_qty = allocation_open_qty
    query = (
        select(orders.c.id, orders.c.status, func.sum(open_qty).label("held"))
        .join(allocations, allocations.c.reservation_id == orders.c.reservation_id)
        .where(orders.c.status.in_(FINISHED_ORDER_STATES), open_qty > 0)
        .group_by(orders.c.id, orders.c.status)
    )
    query = _within(query, order_condition(scope))
    return [
        Drift(
            "I3",
            f"order {r.id}",
            0,
            int(r.held),
            f"order {r.id} is {r.status} but still holds {r.held}",
        )
        for r in conn.execute(query)
    ]
