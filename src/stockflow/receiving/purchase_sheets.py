"""Purchase orders and receipts read from CSV or XLSX sheets, one row per line.

Reading a sheet only checks its cells; the commands it yields carry an
idempotency key made from the file's bytes, so importing one file twice
places and receives everything once. A purchase-order sheet is imported as
one unit (``import_purchase_orders``): every order or none, recorded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from stockflow.adapters.database import Running
from stockflow.adapters.sheets import Cells, Columns, Row, read_sheet
from stockflow.errors import Problems, StockflowError
from stockflow.receiving.purchasing import about_lines, place_orders
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, POLineIn, ReceiptLineIn
from stockflow.stock.import_runs import ImportSummary, ProgressCallback, run_import

PO_COLUMNS = Columns(
    ("supplier", "location", "sku", "qty", "unit_cost"), ("expected_on", "reference")
)
RECEIPT_COLUMNS = Columns(
    ("sku", "received_qty"), ("damaged_qty", "lot", "expires_on", "po_line_no")
)


KIND = "purchase_orders"


@dataclass(frozen=True, slots=True)
class PurchaseSheet:
    """The purchase orders of a sheet and, per order, the rows its lines came from."""

    orders: list[NewPurchaseOrder]
    rows: list[list[int]]
    row_count: int = 0


@dataclass(frozen=True, slots=True)
class PurchaseImportSummary(ImportSummary):
    """What a purchase-order import did: the ids of the orders it placed (or found placed)."""

    orders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiptSheet:
    """The receipt lines of a sheet, the rows they came from, and a key for the file."""

    lines: tuple[ReceiptLineIn, ...]
    rows: list[int]
    key: str


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def purchase_orders_in(path: Path, problems: Problems | None = None) -> PurchaseSheet:
    """Rows with the same supplier, location, reference and expected date are one order.

    With ``problems`` every bad row is told there (and left out); without, the
    first problem is raised.
    """
    found = Problems(columns=PO_COLUMNS.all()) if problems is None else problems
    sheet = read_sheet(path, PO_COLUMNS, problems=found)
    digest = _digest(path)
    groups: dict[tuple[str, str, str | None, date | None], tuple[list[POLineIn], list[int]]] = {}
    for row in sheet.rows:
        cells = Cells(row, found)
        supplier = cells.text("supplier", required=True, max_length=32)
        location = cells.text("location", required=True, max_length=32)
        reference, expected_on = cells.text("reference", max_length=128), cells.day("expected_on")
        sku = cells.text("sku", required=True, max_length=64)
        qty, cost = cells.whole("qty", required=True), cells.decimal("unit_cost", required=True)
        if not cells.ok or supplier is None or location is None or sku is None:
            continue
        if qty is None or cost is None:
            continue
        lines, numbers = groups.setdefault((supplier, location, reference, expected_on), ([], []))
        lines.append(POLineIn(sku, qty, cost))
        numbers.append(row.number)
    orders = [
        NewPurchaseOrder(
            supplier,
            location,
            tuple(lines),
            expected_on=expected_on,
            reference=reference,
            idempotency_key=f"po-sheet:{digest}:{n}",
        )
        for n, ((supplier, location, reference, expected_on), (lines, _)) in enumerate(
            groups.items(), start=1
        )
    ]
    if problems is None:
        found.raise_any()
    return PurchaseSheet(orders, [numbers for _, numbers in groups.values()], len(sheet.rows))


def import_purchase_orders(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> PurchaseImportSummary:
    """Place every purchase order of the file, or none, once (see ``import_runs``).

    Every problem of the file is reported: its cells, then what the database
    refuses (an unknown supplier, location or SKU, a date in the past).
    """
    name, count = path.name, 0

    def prepare() -> Callable[[Connection], tuple[list[str], int, dict[str, Any]]]:
        nonlocal name, count
        found = Problems(columns=PO_COLUMNS.all())
        sheet = purchase_orders_in(path, found)
        name, count = path.name, sheet.row_count
        today = sf.clock().date()
        checked: list[NewPurchaseOrder] = []
        rows: list[list[int]] = []
        for cmd, numbers in zip(sheet.orders, sheet.rows, strict=True):
            try:
                with about_lines(numbers):
                    checked.append(cmd.checked(today=today))
                    rows.append(numbers)
            except StockflowError as exc:
                found.add(exc)
        if progress is not None:
            progress(count // 2, count)

        def work(conn: Connection) -> tuple[list[str], int, dict[str, Any]]:
            problems = found.copy()
            placed = place_orders(
                conn, checked, today=today, now=sf.clock(), rows=rows, problems=problems
            )
            problems.raise_any()
            if progress is not None:
                progress(count, count)
            new = [p.id for p in placed if not p.replayed]
            summary = {"orders": len(placed), "placed": len(new), "lines": count}
            return [p.id for p in placed], count, summary

        return work

    outcome = run_import(sf, path, KIND, prepare, dry_run=dry_run)
    done = PurchaseImportSummary(
        KIND, name, count, outcome.seconds, dry_run=dry_run, earlier=outcome.earlier,
        followup_failed=outcome.followup_failed,
    )  # fmt: skip
    if outcome.earlier is not None:
        return replace(done, rows=outcome.earlier.rows)
    return replace(done, orders=tuple(outcome.result or ()))


def receipt_lines_in(path: Path) -> ReceiptSheet:
    """The lines of one delivery, one row each; the receipt's key comes from the file."""
    sheet = read_sheet(path, RECEIPT_COLUMNS)
    lines = tuple(
        ReceiptLineIn(
            _required(row, row.text("sku", max_length=64), "sku"),
            _required(row, row.whole("received_qty"), "received_qty"),
            row.whole("damaged_qty") or 0,
            row.text("lot", max_length=64),
            row.day("expires_on"),
            row.whole("po_line_no"),
        )
        for row in sheet.rows
    )
    return ReceiptSheet(lines, [row.number for row in sheet.rows], f"receipt-sheet:{_digest(path)}")


T = TypeVar("T", str, int, Decimal)


def _required(row: Row, value: T | None, name: str) -> T:
    """A cell that must not be blank."""
    if value is None:
        raise row.error(name, "is required")
    return value
