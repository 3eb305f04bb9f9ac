"""Cycle counts as people read them: the supervisor's view, the counter's blind sheet, accuracy.

The counter's sheet (``count_sheet``) never carries the books' quantity: a
counter who sees what the system expects tends to find exactly that.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, exists, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import bins, count_lines, cycle_counts, locations, skus
from stockflow.counts.rules import Accuracy, CountStatus, LineStatus, measure
from stockflow.errors import InvalidInput, NotFound
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.scoping import seen


class UnknownCount(NotFound):
    """No cycle count has that id."""

    title = "Unknown count"


@dataclass(frozen=True, slots=True)
class CountLineView:
    """One line as the supervisor sees it: the books at counting time, the count, the variance."""

    line_no: int
    bin: str
    zone: str | None
    sku: str
    lot: str | None
    status: str
    expected: int | None
    counted: int | None
    counted_by: str | None
    counted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None

    @property
    def variance(self) -> int | None:
        """Counted less the books, once counted."""
        if self.expected is None or self.counted is None:
            return None
        return self.counted - self.expected


@dataclass(frozen=True, slots=True)
class CountView:
    """A count with every line, for the person who decides on variances."""

    id: str
    location: str
    scope: str
    status: str
    tolerance_pct: Decimal
    created_by: str
    created_at: datetime
    updated_at: datetime
    lines: tuple[CountLineView, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One line of the counter's sheet: where to look and what for, never how many."""

    line_no: int
    bin: str
    zone: str | None
    sku: str
    sku_name: str
    lot: str | None
    counted: int | None  # what this sheet's counter entered
    done: bool
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class CountSheet:
    """The counter's blind sheet, in walking order."""

    id: str
    location: str
    scope: str
    status: str
    lines: tuple[SheetLine, ...]


@dataclass(frozen=True, slots=True)
class LocationAccuracy:
    """Inventory record accuracy of one location over a date range."""

    location: str
    start: date
    end: date
    accuracy: Accuracy


def _lines_query() -> Select[Any]:
    return (
        select(
            count_lines, bins.c.code.label("bin"), bins.c.zone, skus.c.code.label("sku"),
            skus.c.name.label("sku_name"),
        )
        .join(bins, bins.c.id == count_lines.c.bin_id)
        .join(skus, skus.c.id == count_lines.c.sku_id)
        .order_by(count_lines.c.line_no)
    )  # fmt: skip


def count_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """Counts ``scope`` sees: those of its locations."""
    return seen(scope, location=cycle_counts.c.location_id)


def _head(conn: Connection, count_id: str, scope: Scope) -> Any:
    head = conn.execute(
        select(cycle_counts, locations.c.code.label("location"))
        .join(locations, locations.c.id == cycle_counts.c.location_id)
        .where(cycle_counts.c.id == count_id, *count_seen(scope))
    ).first()
    if head is None:
        raise UnknownCount(f"no count {count_id!r}", field="count_id")
    return head


def count_view(conn: Connection, count_id: str, *, scope: Scope = EVERYWHERE) -> CountView:
    """The supervisor's view of one count (``UnknownCount`` outside ``scope``)."""
    head = _head(conn, count_id, scope)
    rows = conn.execute(_lines_query().where(count_lines.c.count_id == count_id))
    lines = tuple(
        CountLineView(
            line_no=int(r.line_no),
            bin=r.bin,
            zone=r.zone,
            sku=r.sku,
            lot=r.lot_code or None,
            status=r.status,
            expected=r.expected_qty,
            counted=r.counted_qty,
            counted_by=r.counted_by,
            counted_at=r.counted_at,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )
        for r in rows
    )
    return CountView(
        id=head.id, location=head.location, scope=head.scope, status=head.status,
        tolerance_pct=Decimal(head.tolerance_pct), created_by=head.created_by,
        created_at=head.created_at, updated_at=head.updated_at, lines=lines,
    )  # fmt: skip


def count_sheet(
    conn: Connection, count_id: str, *, line_no: int | None = None, scope: Scope = EVERYWHERE
) -> CountSheet:
    """The counter's blind view of a count (or of one line of it)."""
    head = _head(conn, count_id, scope)
    query = _lines_query().where(count_lines.c.count_id == count_id)
    if line_no is not None:
        query = query.where(count_lines.c.line_no == line_no)
    lines = tuple(
        SheetLine(
            line_no=int(r.line_no),
            bin=r.bin,
            zone=r.zone,
            sku=r.sku,
            sku_name=r.sku_name,
            lot=r.lot_code or None,
            counted=r.counted_qty,
            done=r.status != LineStatus.OPEN.value,
        )
        for r in conn.execute(query)
    )
    return CountSheet(head.id, head.location, head.scope, head.status, lines)


def sheet_line(conn: Connection, count_id: str, line_no: int) -> SheetLine:
    """One line of the counter's sheet."""
    found = count_sheet(conn, count_id, line_no=line_no).lines
    if not found:
        raise NotFound(f"count {count_id} has no line {line_no}", field="line_no")
    return found[0]


COUNTS = Keyset(
    "counts",
    Key(cycle_counts.c.created_at, descending=True),
    Key(cycle_counts.c.id, descending=True),
)
ACCURACY = Keyset("accuracy", locations.c.code)


def count_page(
    conn: Connection, *, location: str | None = None, status: str | None = None, limit: int,
    after: str | None = None, scope: Scope = EVERYWHERE,
) -> Page[CountView]:  # fmt: skip
    """Counts newest first, optionally of one location or status (without their lines)."""
    query = (
        select(cycle_counts, locations.c.code.label("location"))
        .join(locations, locations.c.id == cycle_counts.c.location_id)
        .where(*count_seen(scope))
    )
    if location is not None:
        query = query.where(
            cycle_counts.c.location_id == lookup.location_by_code(conn, location).id
        )
    if status is not None:
        if status not in {s.value for s in CountStatus}:
            choices = ", ".join(s.value for s in CountStatus)
            raise InvalidInput(f"use one of: {choices}", field="status")
        query = query.where(cycle_counts.c.status == status)
    return COUNTS.page(conn, query, after=after, limit=limit).map(
        lambda r: CountView(
            id=r.id,
            location=r.location,
            scope=r.scope,
            status=r.status,
            tolerance_pct=Decimal(r.tolerance_pct),
            created_by=r.created_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
            lines=(),
        )
    )


def accuracy_page(
    conn: Connection, *, start: date, end: date, location: str | None = None,
    after: str | None = None, limit: int, scope: Scope = EVERYWHERE,
) -> Page[LocationAccuracy]:  # fmt: skip
    """Record accuracy per location (in code order) of the lines counted from ``start`` to ``end``.

    The locations are those with lines counted then (or the one named, even
    with none). Found lines (stock where the books had none) count as counted
    and wrong. Lines of cancelled counts count too: the count happened, the
    books were what they were. Only the locations of ``scope`` are measured.
    """
    if end < start:
        raise InvalidInput(f"ends ({end}) before it starts ({start})", field="end")
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    measured = and_(
        count_lines.c.counted_at >= since, count_lines.c.counted_at < until,
        count_lines.c.expected_qty.is_not(None), count_lines.c.counted_qty.is_not(None),
    )  # fmt: skip
    places = select(locations.c.id).where(*seen(scope, location=locations.c.id))
    if location is not None:
        if not scope.sees_location(location):
            return Page([], None)
        places = places.where(locations.c.id == lookup.location_by_code(conn, location).id)
    else:
        counted = (
            select(count_lines.c.count_id)
            .join(cycle_counts, cycle_counts.c.id == count_lines.c.count_id)
            .where(cycle_counts.c.location_id == locations.c.id, measured)
        )
        places = places.where(exists(counted))
    page = ACCURACY.page(conn, places, after=after, limit=limit)
    per_location: dict[int, list[tuple[int, int, Decimal]]] = defaultdict(list)
    if page.items:
        rows = conn.execute(
            select(
                cycle_counts.c.location_id, count_lines.c.expected_qty,
                count_lines.c.counted_qty, cycle_counts.c.tolerance_pct,
            )
            .join(cycle_counts, cycle_counts.c.id == count_lines.c.count_id)
            .where(measured, cycle_counts.c.location_id.in_([r.id for r in page]))
        )  # fmt: skip
        for r in rows:
            per_location[r.location_id].append(
                (int(r.expected_qty), int(r.counted_qty), Decimal(r.tolerance_pct))
            )
    return page.map(
        lambda r: LocationAccuracy(
            ACCURACY.key_of(r)[0], start, end, measure(per_location.get(r.id, []))
        )
    )
