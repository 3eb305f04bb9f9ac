"""Opening a cycle count (and calling it off): its bins, and a line per position in them.

A scope is a zone, named bins, an ABC class, or the bins that came up short
on a pick since they were last counted. Counting and deciding the lines is
``counts.counting``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, func, or_, select, update

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    bins,
    count_lines,
    cycle_counts,
    exceptions,
    pick_tasks,
    positions,
    skus,
    stock_moves,
)
from stockflow.counts.queries import CountView, UnknownCount, count_seen, count_view
from stockflow.counts.rules import (
    USAGE_REASONS,
    AbcClass,
    CountEvent,
    CountScope,
    CountStatus,
    IllegalCountStep,
    LineStatus,
    ScopeKind,
    classify_abc,
    next_count_status,
)
from stockflow.errors import IdempotencyKeyReused, InvalidInput, UnknownBin
from stockflow.stock import lookup
from stockflow.stock.ids import keyed_id, new_id
from stockflow.stock.lookup import LocationRef
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.places import BinRole

SHORT_PICK_REF = "short-pick:"
"""How the short-pick path references its corrections and exceptions: ``short-pick:<task id>``."""


def scope_bins(
    conn: Connection, location: LocationRef, scope: CountScope, *, now: datetime
) -> list[int]:
    """Ids of the bins ``scope`` covers at ``location``; none at all is an error."""
    kind = ScopeKind(scope.kind)
    if kind is ScopeKind.LOCATION:
        found = _zone_bins(conn, location.id, None)
    elif kind is ScopeKind.ZONE:
        found = _zone_bins(conn, location.id, scope.zone or "")
    elif kind is ScopeKind.BINS:
        found = _named_bins(conn, location, scope.bins)
    elif kind is ScopeKind.ABC:
        since = now - timedelta(days=scope.days)
        found = class_bins(conn, location.id, AbcClass(scope.abc_class or ""), since=since)
    else:
        found = short_pick_bins(conn, location.id)
    if not found:
        raise InvalidInput(
            f"no bins to count at {location.code} for {scope.describe()}", field="scope"
        )
    return sorted(found)


def _zone_bins(conn: Connection, location_id: int, zone: str | None) -> set[int]:
    """Storage bins of one zone, or of the whole location when ``zone`` is None."""
    query = select(bins.c.id).where(
        bins.c.location_id == location_id, bins.c.role == BinRole.STORAGE.value
    )
    if zone is not None:
        query = query.where(bins.c.zone == zone)
    rows = conn.execute(query)
    return {int(r.id) for r in rows}


def _named_bins(conn: Connection, location: LocationRef, codes: tuple[str, ...]) -> set[int]:
    rows = conn.execute(
        select(bins.c.id, bins.c.code).where(
            bins.c.location_id == location.id, among(bins.c.code, codes)
        )
    )
    ids = {r.code: int(r.id) for r in rows}
    for i, code in enumerate(codes):
        if code not in ids:
            raise UnknownBin(
                f"location {location.code} has no bin {code!r}", field=f"scope.bins[{i}]"
            )
    return set(ids.values())


def abc_classes(conn: Connection, location_id: int, *, since: datetime) -> dict[int, AbcClass]:
    """ABC class of each SKU that left the location since ``since`` (others are C).

    Units are summed in SQL and priced in Python, so the value is an exact Decimal.
    """
    moved = conn.execute(
        select(stock_moves.c.sku_id, func.sum(stock_moves.c.qty).label("units"))
        .join(positions, positions.c.id == stock_moves.c.from_position_id)
        .where(
            positions.c.location_id == location_id,
            stock_moves.c.reason.in_(sorted(r.value for r in USAGE_REASONS)),
            stock_moves.c.created_at >= since,
        )
        .group_by(stock_moves.c.sku_id)
    ).all()
    units = {int(r.sku_id): int(r.units) for r in moved}
    if not units:
        return {}
    prices = conn.execute(select(skus.c.id, skus.c.unit_price).where(among(skus.c.id, units))).all()
    values = {int(r.id): units[int(r.id)] * (r.unit_price or Decimal(0)) for r in prices}
    return classify_abc(values)


def class_bins(
    conn: Connection, location_id: int, wanted: AbcClass, *, since: datetime
) -> set[int]:
    """Storage bins holding stock of a SKU of class ``wanted``."""
    classes = abc_classes(conn, location_id, since=since)
    held = conn.execute(
        select(positions.c.sku_id, positions.c.bin_id)
        .join(bins, bins.c.id == positions.c.bin_id)
        .where(
            positions.c.location_id == location_id,
            positions.c.on_hand > 0,
            bins.c.role == BinRole.STORAGE.value,
        )
    )
    return {int(r.bin_id) for r in held if classes.get(int(r.sku_id), AbcClass.C) is wanted}


def short_pick_bins(conn: Connection, location_id: int) -> set[int]:
    """Bins with a short pick since they were last counted (or ever, if never counted).

    A short pick leaves two traces: a count-correction move referenced
    ``short-pick:<task>`` at the bin's position, and ``short_pick`` exceptions
    with the same reference, whose pick task names the position.
    """
    seen: dict[int, datetime] = {}
    for bin_id, at in [*_corrections(conn, location_id), *_exceptions(conn, location_id)]:
        seen[bin_id] = max(at, seen.get(bin_id, at))
    last = _last_counted(conn, location_id)
    return {b for b, at in seen.items() if b not in last or at > last[b]}


def _corrections(conn: Connection, location_id: int) -> list[tuple[int, datetime]]:
    rows = conn.execute(
        select(positions.c.bin_id, func.max(stock_moves.c.created_at).label("at"))
        .join(
            positions,
            or_(
                positions.c.id == stock_moves.c.from_position_id,
                positions.c.id == stock_moves.c.to_position_id,
            ),
        )
        .where(
            positions.c.location_id == location_id,
            stock_moves.c.reason == Reason.COUNT_CORRECTION.value,
            stock_moves.c.reference.like(f"{SHORT_PICK_REF}%"),
        )
        .group_by(positions.c.bin_id)
    )
    return [(int(r.bin_id), r.at) for r in rows]


def _exceptions(conn: Connection, location_id: int) -> list[tuple[int, datetime]]:
    raised = conn.execute(
        select(exceptions.c.reference, func.max(exceptions.c.created_at).label("at"))
        .where(
            exceptions.c.kind == ExceptionKind.SHORT_PICK.value,
            exceptions.c.reference.like(f"{SHORT_PICK_REF}%"),
        )
        .group_by(exceptions.c.reference)
    ).all()
    when: dict[int, datetime] = {}
    for r in raised:
        task = r.reference.removeprefix(SHORT_PICK_REF)
        if task.isdigit():
            when[int(task)] = r.at
    if not when:
        return []
    tasks = conn.execute(
        select(pick_tasks.c.id, positions.c.bin_id)
        .join(positions, positions.c.id == pick_tasks.c.position_id)
        .where(among(pick_tasks.c.id, when), positions.c.location_id == location_id)
    )
    return [(int(t.bin_id), when[int(t.id)]) for t in tasks]


def _last_counted(conn: Connection, location_id: int) -> dict[int, datetime]:
    rows = conn.execute(
        select(count_lines.c.bin_id, func.max(count_lines.c.counted_at).label("at"))
        .join(cycle_counts, cycle_counts.c.id == count_lines.c.count_id)
        .where(cycle_counts.c.location_id == location_id, count_lines.c.counted_at.is_not(None))
        .group_by(count_lines.c.bin_id)
    )
    return {int(r.bin_id): r.at for r in rows}


def count_positions(
    conn: Connection, location_id: int, bin_ids: list[int]
) -> list[tuple[int, int, str]]:
    """(bin, SKU, lot) of every position in these bins, empty ones too, in walking order."""
    rows = conn.execute(
        select(positions.c.bin_id, positions.c.sku_id, positions.c.lot_code)
        .join(bins, bins.c.id == positions.c.bin_id)
        .join(skus, skus.c.id == positions.c.sku_id)
        .where(positions.c.location_id == location_id, among(positions.c.bin_id, bin_ids))
        .order_by(bins.c.sequence, bins.c.code, skus.c.code, positions.c.lot_code)
    )
    return [(int(r.bin_id), int(r.sku_id), r.lot_code) for r in rows]


@dataclass(frozen=True, slots=True)
class NewCount:
    """Count the bins ``scope`` covers; ``tolerance_pct`` decides what is corrected at once."""

    location: str
    scope: CountScope
    tolerance_pct: Decimal
    actor: str = "system"
    idempotency_key: str | None = None


def create_count(
    conn: Connection, cmd: NewCount, *, now: datetime, within: Scope = EVERYWHERE
) -> CountView:
    """Open a count with one line per position (SKU x lot) in each bin of the scope.

    Positions with nothing on hand get a line too: a bin the books call empty
    is worth a look. With an idempotency key, a retry answers the first count.
    ``within`` is the caller's access scope: a location outside it is refused.
    """
    count_id = new_id("CC") if cmd.idempotency_key is None else keyed_id("CC", cmd.idempotency_key)
    require_location(within, cmd.location, field="location")
    place = lookup.location_by_code(conn, cmd.location)
    if cmd.idempotency_key is not None:
        found = conn.execute(select(cycle_counts.c.id).where(cycle_counts.c.id == count_id)).first()
        if found is not None:
            earlier = count_view(conn, count_id)
            if (earlier.location, earlier.scope, earlier.tolerance_pct) != (
                place.code, cmd.scope.describe(), cmd.tolerance_pct
            ):  # fmt: skip
                raise IdempotencyKeyReused(cmd.idempotency_key)
            return replace(earlier, replayed=True)
    rows = count_positions(conn, place.id, scope_bins(conn, place, cmd.scope, now=now))
    if not rows:
        raise InvalidInput(
            f"the bins of {cmd.scope.describe()} at {place.code} hold no stock to count",
            field="scope",
        )
    conn.execute(
        cycle_counts.insert().values(
            id=count_id, location_id=place.id, scope=cmd.scope.describe(),
            status=CountStatus.OPEN.value, tolerance_pct=cmd.tolerance_pct, created_by=cmd.actor,
            created_at=now, updated_at=now,
        )
    )  # fmt: skip
    conn.execute(
        count_lines.insert(),
        [
            {"count_id": count_id, "line_no": n, "bin_id": b, "sku_id": s, "lot_code": lot,
             "status": LineStatus.OPEN.value}
            for n, (b, s, lot) in enumerate(rows, start=1)
        ],
    )  # fmt: skip
    return count_view(conn, count_id)


def cancel_count(
    conn: Connection, count_id: str, *, now: datetime, scope: Scope = EVERYWHERE
) -> CountView:
    """Call off an open count; lines counted so far keep what they did to the books.

    Variances still waiting must be decided first: cancelling would leave
    them neither posted nor rejected. A count outside ``scope`` is not found.
    """
    found = conn.execute(
        select(cycle_counts.c.status)
        .where(cycle_counts.c.id == count_id, *count_seen(scope))
        .with_for_update()
    ).first()
    if found is None:
        raise UnknownCount(f"no count {count_id!r}", field="count_id")
    waiting = conn.execute(
        select(func.count())
        .select_from(count_lines)
        .where(
            count_lines.c.count_id == count_id,
            count_lines.c.status == LineStatus.PENDING_APPROVAL.value,
        )
    ).scalar_one()
    if waiting:
        raise IllegalCountStep(
            f"count {count_id} has {waiting} variance(s) waiting: approve or reject them first",
            field="count_id",
        )
    status = next_count_status(found.status, CountEvent.CANCEL, count_id=count_id)
    conn.execute(
        update(cycle_counts)
        .where(cycle_counts.c.id == count_id)
        .values(status=status.value, updated_at=now)
    )
    return count_view(conn, count_id)
