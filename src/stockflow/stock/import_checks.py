"""Set-based checks of a staged file that still name the row and column of each problem.

A check is a condition on a staged row (``RowCheck``) or a query that
returns the rows at fault (``check_query``). All the row checks of a table
are counted in one scan, so a good file costs one statement; only when
something is wrong are the first rows at fault read back, in file order,
and turned into errors that name their row and column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, Table, case, func, or_, select

from stockflow.adapters.sheets import Cells
from stockflow.adapters.sheets import Row as SheetRow
from stockflow.errors import Problems, StockflowError
from stockflow.stock.import_runs import ProgressCallback

Staged = tuple[object, ...]
"""One staged row: its spreadsheet row number, then its values (None for a bad cell)."""

Complaint = Callable[[Row[Any]], StockflowError]
"""The error for one row at fault (it names the column; the row number is filled in)."""


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A condition under which a staged row is at fault, and the error it gets."""

    at_fault: ColumnElement[bool]
    complaint: Complaint


def check_rows(
    conn: Connection, table: Table, checks: Sequence[RowCheck], problems: Problems
) -> None:
    """Run every check over ``table`` (one scan when the file is good); tell ``problems``."""
    if not checks:
        return
    counts = conn.execute(
        select(*(func.coalesce(func.sum(case((c.at_fault, 1), else_=0)), 0) for c in checks))
    ).one()
    if not any(counts):
        return
    failing = [(n, c) for n, (c, count) in enumerate(zip(checks, counts, strict=True)) if count]
    flags = [c.at_fault.label(f"fault_{n}") for n, c in failing]
    listing = (
        select(table, *flags)
        .where(or_(*(c.at_fault for _, c in failing)))
        .order_by(table.c.row)
        .limit(problems.limit)
    )
    listed = 0
    for r in conn.execute(listing):
        for n, check in failing:
            if r._mapping[f"fault_{n}"]:
                problems.add(_at(r, check.complaint(r)))
                listed += 1
    problems.counted(sum(int(c) for c in counts) - listed)


def check_query(
    conn: Connection, query: Select[Any], complaint: Complaint, problems: Problems
) -> None:
    """Tell ``problems`` of every row ``query`` returns (it selects a ``row`` column)."""
    ordered = query.order_by(query.selected_columns.row).limit(problems.limit)
    found = conn.execute(ordered).all()
    for r in found:
        problems.add(_at(r, complaint(r)))
    if len(found) == problems.limit:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        problems.counted(int(total) - len(found))


def _at(r: Row[Any], error: StockflowError) -> StockflowError:
    if error.row is None:
        error.row = int(r.row)
    return error


def read_rows(
    rows: Sequence[SheetRow],
    read: Callable[[Cells], tuple[object, ...]],
    problems: Problems,
    progress: ProgressCallback | None,
) -> list[Staged]:
    """Every row's values for staging (row number first); bad cells are None, their problems told.

    Progress goes to half way: reading is about half of an import's work.
    """
    out: list[Staged] = []
    total, step = len(rows), max(1, len(rows) // 20)
    for n, row in enumerate(rows, start=1):
        out.append((row.number, *read(Cells(row, problems))))
        if progress is not None and n % step == 0:
            progress(n // 2, total)
    return out
