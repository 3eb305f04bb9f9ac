"""Bulk import of SKUs, locations, bins and opening stock from CSV or XLSX, all or nothing.

Each import reads and checks the whole file first, then writes it in one
transaction: a file with one bad row changes nothing. Errors are
``StockflowError``s whose ``row`` is the spreadsheet row (the header is row 1)
and whose ``field`` is the column at fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from stockflow.adapters.database import Running
from stockflow.adapters.sheets import Columns, Row, read_sheet
from stockflow.errors import InvalidInput, StockflowError
from stockflow.stock import catalogue, opening_stock
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku

if TYPE_CHECKING:
    from sqlalchemy import Connection

T = TypeVar("T")

ProgressCallback = opening_stock.ProgressCallback

SKU_COLUMNS = Columns(("code", "name"), ("base_unit", "active", "lot_tracked", "unit_price"))
LOCATION_COLUMNS = Columns(
    ("code",), ("name", "kind", "address", "latitude", "longitude", "allow_negative")
)
BIN_COLUMNS = Columns(("location", "code"), ("zone", "sequence", "role", "capacity"))
STOCK_COLUMNS = Columns(("sku", "location", "qty"), ("bin", "lot", "expires_on"))

_CHUNK = 5_000  # items per insert: their lookups stay inside every bind-parameter limit
_PRICE_LIMIT = 10**10  # unit_price is NUMERIC(14, 4)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import wrote and how long it took."""

    kind: str
    file: str
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Throughput of the whole import, reading the file included."""
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


def import_skus(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None
) -> ImportSummary:
    """Add every SKU in the file, or none; a code already in the catalogue refuses the file."""
    return _import_catalogue(
        sf, path, "skus", SKU_COLUMNS, _sku, lambda s: s.code, "SKU",
        lambda conn, chunk, now: catalogue.add_skus(conn, chunk, now=now), progress,
    )  # fmt: skip


def import_locations(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None
) -> ImportSummary:
    """Add every location in the file (each with its default bin), or none."""
    return _import_catalogue(
        sf, path, "locations", LOCATION_COLUMNS, _location, lambda x: x.code, "location",
        lambda conn, chunk, now: catalogue.add_locations(conn, chunk, now=now), progress,
    )  # fmt: skip


def import_bins(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None
) -> ImportSummary:
    """Add every bin in the file to its (existing) location, or none."""
    return _import_catalogue(
        sf, path, "bins", BIN_COLUMNS, _bin, lambda b: f"{b.code} in {b.location}", "bin",
        lambda conn, chunk, _now: catalogue.add_bins(conn, chunk), progress,
    )  # fmt: skip


def _import_catalogue(
    sf: Running,
    path: Path,
    kind: str,
    columns: Columns,
    parse: Callable[[Row], T],
    key: Callable[[T], str],
    what: str,
    add: Callable[[Connection, list[T], datetime], None],
    progress: ProgressCallback | None,
) -> ImportSummary:
    """Read and check the whole file, refuse duplicate keys, then add it in one transaction."""
    started = time.perf_counter()
    sheet = read_sheet(path, columns)
    items = [(row.number, parse(row)) for row in sheet.rows]
    _refuse_duplicates(((n, key(x)) for n, x in items), field="code", what=what)
    now = sf.clock()
    sf.db.run(lambda conn: _in_chunks(items, lambda chunk: add(conn, chunk, now), progress))
    return ImportSummary(kind, sheet.name, len(items), time.perf_counter() - started)


def import_stock(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None
) -> ImportSummary:
    """Receive opening stock: each row becomes one ``receipt`` move, all in one transaction.

    Orders already waiting for the imported SKUs get their chance right after commit.
    """
    started = time.perf_counter()
    sheet = read_sheet(path, STOCK_COLUMNS)
    lines = [opening_stock.StockLine.from_row(row) for row in sheet.rows]
    opening_stock.refuse_conflicting_expiry(lines)
    reference = f"import:{sheet.name}"[:128]
    now = sf.clock()
    sf.db.run(
        lambda conn: opening_stock.post_receipts(
            conn, lines, reference=reference, now=now, progress=progress
        )
    )
    return ImportSummary("stock", sheet.name, len(lines), time.perf_counter() - started)


# catalogue rows --------------------------------------------------------------
def _sku(row: Row) -> NewSku:
    price = row.decimal("unit_price")
    if price is not None and (abs(price) >= _PRICE_LIMIT or _decimal_places(price) > 4):
        raise row.error("unit_price", f"must be below {_PRICE_LIMIT:,} with at most 4 decimals")
    return NewSku(
        code=row.text("code") or "",
        name=row.text("name") or "",
        base_unit=row.text("base_unit", max_length=16) or "each",
        active=row.flag("active", default=True),
        lot_tracked=row.flag("lot_tracked", default=False),
        unit_price=price,
    ).checked(row=row.number)


def _location(row: Row) -> NewLocation:
    return NewLocation(
        code=row.text("code") or "",
        name=row.text("name", max_length=200) or "",
        kind=(row.text("kind") or "warehouse").lower(),
        address=row.text("address"),
        latitude=row.decimal("latitude"),
        longitude=row.decimal("longitude"),
        allow_negative=row.flag("allow_negative", default=False),
    ).checked(row=row.number)


def _bin(row: Row) -> NewBin:
    return NewBin(
        location=row.text("location") or "",
        code=row.text("code") or "",
        zone=row.text("zone", max_length=32),
        sequence=row.whole("sequence") or 0,
        role=row.text("role", max_length=16) or "storage",
        capacity=row.whole("capacity"),
    ).checked(row=row.number)


def _in_chunks(
    items: Sequence[tuple[int, T]],
    add: Callable[[list[T]], None],
    progress: ProgressCallback | None,
) -> None:
    """Insert in chunks; an error a service numbers by position in its chunk names the row."""
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        with _rows_by_position([n for n, _ in chunk]):
            add([item for _, item in chunk])
        if progress is not None:
            progress(start + len(chunk), len(items))


@contextmanager
def _rows_by_position(numbers: Sequence[int]) -> Iterator[None]:
    try:
        yield
    except StockflowError as exc:
        if exc.row is not None and 1 <= exc.row <= len(numbers):
            exc.row = numbers[exc.row - 1]
        raise


def _refuse_duplicates(keyed: Iterable[tuple[int, str]], *, field: str, what: str) -> None:
    """Two rows for the same thing are an error naming both rows."""
    seen: dict[str, int] = {}
    for number, key in keyed:
        first = seen.setdefault(key, number)
        if first != number:
            raise InvalidInput(
                f"{what} {key} appears twice: rows {first} and {number}", field=field, row=number
            )


def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
