"""Purchase orders and receipts read from CSV or XLSX sheets, one row per line.

Reading a sheet only checks its cells; the commands it yields carry an
idempotency key made from the file's bytes, so importing one file twice
places and receives everything once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from stockflow.adapters.sheets import Columns, Row, read_sheet
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, POLineIn, ReceiptLineIn

PO_COLUMNS = Columns(
    ("supplier", "location", "sku", "qty", "unit_cost"), ("expected_on", "reference")
)
RECEIPT_COLUMNS = Columns(
    ("sku", "received_qty"), ("damaged_qty", "lot", "expires_on", "po_line_no")
)


@dataclass(frozen=True, slots=True)
class PurchaseSheet:
    """The purchase orders of a sheet and, per order, the rows its lines came from."""

    orders: list[NewPurchaseOrder]
    rows: list[list[int]]


@dataclass(frozen=True, slots=True)
class ReceiptSheet:
    """The receipt lines of a sheet, the rows they came from, and a key for the file."""

    lines: tuple[ReceiptLineIn, ...]
    rows: list[int]
    key: str


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def purchase_orders_in(path: Path) -> PurchaseSheet:
    """Rows with the same supplier, location, reference and expected date are one order."""
    sheet = read_sheet(path, PO_COLUMNS)
    digest = _digest(path)
    groups: dict[tuple[str, str, str | None, date | None], tuple[list[POLineIn], list[int]]] = {}
    for row in sheet.rows:
        head = (
            _required(row, row.text("supplier", max_length=32), "supplier"),
            _required(row, row.text("location", max_length=32), "location"),
            row.text("reference", max_length=128),
            row.day("expected_on"),
        )
        lines, numbers = groups.setdefault(head, ([], []))
        lines.append(
            POLineIn(
                _required(row, row.text("sku", max_length=64), "sku"),
                _required(row, row.whole("qty"), "qty"),
                _required(row, row.decimal("unit_cost"), "unit_cost"),
            )
        )
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
    return PurchaseSheet(orders, [numbers for _, numbers in groups.values()])


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
