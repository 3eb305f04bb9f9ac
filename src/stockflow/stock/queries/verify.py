"""Recompute invariants I1-I3 from the ledger and the allocations, and report drift.

I1 sums the ledger from a checkpoint on: each position's balance over the
moves up to the checkpoint is stored (``balance_checkpoints``), so the daily
check reads only the moves after it. From the checkpoint 0 it sums the whole
ledger, and can check the stored balances against it in the same pass.
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
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
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


def verify(
    conn: Connection, *, scope: Scope = EVERYWHERE, since: int = 0, checkpoint: int = 0
) -> list[Drift]:
    """Every place where stored totals disagree with the ledger or the open allocations.

    ``since``: the checkpoint's move id. On hand is then checked against the
    checkpoint's balance plus the moves after it; 0 sums the whole ledger.
    ``checkpoint`` (with ``since`` 0): also check the checkpoint's balances,
    summed through that move, against the ledger, in the same pass over it
    (drift ``checkpoint``). A caller limited to sites hears of the positions
    at its sites and of the reservations and orders it sees.
    """
    if since and checkpoint:
        raise ValueError("the checkpoint is checked against the whole ledger only")
    return [
        *_ledger_drift(conn, scope, since, checkpoint),
        *_oversold(conn, scope),
        *_allocation_drift(conn, scope),
        *_closed_but_open(conn, scope),
        *_finished_orders_holding(conn, scope),
    ]


def ledger_balances(*, after: int = 0, through: int | None = None, split: int = 0) -> Subquery:
    """Per position, moves in less moves out over the moves after ``after`` up to ``through``.

    Columns ``pid`` and ``ledger`` (and ``upto``, the same over the moves up to
    ``split``, when ``split`` is given); a position without such moves has no row.
    """
    window: list[ColumnElement[bool]] = []
    if after:
        window.append(stock_moves.c.id > after)
    if through is not None:
        window.append(stock_moves.c.id <= through)
    moves = stock_moves.c
    flows = union_all(
        select(moves.id, moves.to_position_id.label("pid"), moves.qty.label("q")).where(
            moves.to_position_id.is_not(None), *window
        ),
        select(moves.id, moves.from_position_id, literal(0) - moves.qty).where(
            moves.from_position_id.is_not(None), *window
        ),
    ).subquery()
    # Summed as BIGINT: PostgreSQL widens sum(bigint) to NUMERIC, slow to compare row by row.
    sums = [cast(func.sum(flows.c.q), BigInteger).label("ledger")]
    if split:
        early = case((flows.c.id <= split, flows.c.q), else_=0)
        sums.append(cast(func.sum(early), BigInteger).label("upto"))
    return select(flows.c.pid, *sums).group_by(flows.c.pid).subquery()


def moves_after(conn: Connection, since: int) -> int:
    """How many ledger rows come after move ``since``: what a check from there reads."""
    query = select(func.count()).select_from(stock_moves)
    if since:
        query = query.where(stock_moves.c.id > since)
    return int(conn.execute(query).scalar_one())


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


def _ledger_drift(conn: Connection, scope: Scope, since: int, checkpoint: int) -> list[Drift]:
    """I1: on hand equals moves in less moves out (the checkpoint's balance plus moves since)."""
    totals = ledger_balances(after=since, split=checkpoint)
    kept = func.coalesce(balance_checkpoints.c.on_hand, 0)
    ledger: ColumnElement[Any] = func.coalesce(totals.c.ledger, 0)
    if since:
        ledger = kept + ledger
    columns = [positions.c.on_hand, ledger.label("ledger")]
    wrong = positions.c.on_hand != ledger
    if checkpoint:
        upto = func.coalesce(totals.c.upto, 0)
        columns += [kept.label("kept"), upto.label("upto")]
        wrong = or_(wrong, kept != upto)
    query = _positions_with(scope, *columns)
    if since or checkpoint:
        query = query.outerjoin(
            balance_checkpoints, balance_checkpoints.c.position_id == positions.c.id
        )
    query = query.outerjoin(totals, totals.c.pid == positions.c.id).where(wrong)
    found = []
    for r in conn.execute(query):
        label = _label(r)
        if r.on_hand != r.ledger:
            message = f"{label}: on hand {r.on_hand}, ledger says {r.ledger}"
            found.append(Drift("I1", label, int(r.ledger), int(r.on_hand), message))
        if checkpoint and r.kept != r.upto:
            kept_as = f"checkpoint through move {checkpoint} says {r.kept}"
            message = f"{label}: {kept_as}, ledger says {r.upto}"
            found.append(Drift("checkpoint", label, int(r.upto), int(r.kept), message))
    return found


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
    by_position: ColumnElement[Any] = allocations.c.position_id
    if conn.dialect.name == "sqlite":
        # Else SQLite walks the position index and fetches every row by it: ten
        # times slower than one scan. A unary plus keeps the index out of it.
        by_position = literal_column("+allocations.position_id")
    held = (
        select(allocations.c.position_id.label("pid"), func.sum(open_qty).label("held"))
        .where(open_qty > 0)
        .group_by(by_position)
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
