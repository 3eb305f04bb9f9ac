"""Bulk import of SKUs, locations, bins and opening stock from CSV or XLSX, all or nothing.

Each import is one unit (``import_runs.run_import``): the file is read and
every row's cells checked first; then, in one transaction, its rows are
staged in a temporary table (``COPY`` on PostgreSQL), checked against the
database with set-based statements, and written with ``INSERT ... SELECT``.
Every problem is reported (the first by row and column, the others as its
``also``), and a file with one bad row changes nothing. Errors are
``StockflowError``s whose ``row`` is the spreadsheet row (the header is row
1) and whose ``field`` is the column at fault. The same file again changes
nothing; ``dry_run`` checks a file without writing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    func,
    literal,
    select,
)

from stockflow.adapters.database import Running
from stockflow.adapters.sheets import Cells, Columns, read_sheet
from stockflow.adapters.staging import load, staged
from stockflow.adapters.tables import bins, locations, skus
from stockflow.errors import AlreadyExists, InvalidInput, Problems, StockflowError, UnknownLocation
from stockflow.stock import opening_stock
from stockflow.stock.import_checks import check_query, read_rows
from stockflow.stock.import_runs import ImportSummary, ProgressCallback, run_import
from stockflow.stock.rules.catalogue import checked_code
from stockflow.stock.rules.places import DEFAULT_BIN, BinRole, LocationKind
from stockflow.stock.rules.quantities import non_negative_quantity, positive_quantity

__all__ = [
    "BIN_COLUMNS",
    "LOCATION_COLUMNS",
    "SKU_COLUMNS",
    "STOCK_COLUMNS",
    "ImportSummary",
    "ProgressCallback",
    "import_bins",
    "import_locations",
    "import_skus",
    "import_stock",
]

SKU_COLUMNS = Columns(("code", "name"), ("base_unit", "active", "lot_tracked", "unit_price"))
LOCATION_COLUMNS = Columns(
    ("code",), ("name", "kind", "address", "latitude", "longitude", "allow_negative")
)
BIN_COLUMNS = Columns(("location", "code"), ("zone", "sequence", "role", "capacity"))
STOCK_COLUMNS = opening_stock.STOCK_COLUMNS

_PRICE_LIMIT = 10**10  # unit_price is NUMERIC(14, 4)
_STAGED = "import_rows"


@dataclass(frozen=True, slots=True)
class _Kind:
    """What one kind of catalogue file is: its columns, its rows' checks, how it is written."""

    name: str
    columns: Columns
    staging: Callable[[], list[Column[Any]]]
    read: Callable[[Cells], tuple[object, ...]]
    check: Callable[[Connection, Table, Problems], None]
    write: Callable[[Connection, Table, datetime], None]


def import_skus(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportSummary:
    """Add every SKU in the file, or none; a code already in the catalogue refuses the file."""
    return _import(sf, path, _SKUS, progress, dry_run)


def import_locations(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportSummary:
    """Add every location in the file (each with its default bin), or none."""
    return _import(sf, path, _LOCATIONS, progress, dry_run)


def import_bins(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportSummary:
    """Add every bin in the file to its (existing) location, or none."""
    return _import(sf, path, _BINS, progress, dry_run)


def import_stock(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportSummary:
    """Receive opening stock: each row becomes one ``receipt`` move, all in one transaction.

    Orders already waiting for the imported SKUs get their chance right after commit.
    """
    return opening_stock.import_opening_stock(sf, path, progress=progress, dry_run=dry_run)


def _import(
    sf: Running, path: Path, kind: _Kind, progress: ProgressCallback | None, dry_run: bool
) -> ImportSummary:
    """Read and check the file, then stage, check and write it as one unit."""
    sheet_name, count = path.name, 0

    def prepare() -> Callable[[Connection], tuple[None, int, dict[str, Any]]]:
        nonlocal sheet_name, count
        found = Problems(columns=kind.columns.all())
        sheet = read_sheet(path, kind.columns, problems=found)
        sheet_name, count = sheet.name, len(sheet.rows)
        rows = read_rows(sheet.rows, kind.read, found, progress)

        def work(conn: Connection) -> tuple[None, int, dict[str, Any]]:
            problems = found.copy()
            with staged(conn, _STAGED, *kind.staging()) as table:
                load(conn, table, rows, count=count)
                kind.check(conn, table, problems)
                problems.raise_any()
                kind.write(conn, table, sf.clock())
            if progress is not None:
                progress(count, count)
            return None, count, {"rows": count}

        return work

    outcome = run_import(sf, path, kind.name, prepare, dry_run=dry_run)
    done = ImportSummary(kind.name, sheet_name, count, outcome.seconds, dry_run=dry_run)
    return replace(done, earlier=outcome.earlier, followup_failed=outcome.followup_failed)


# SKUs --------------------------------------------------------------------------------
def _sku_staging() -> list[Column[Any]]:
    return [
        Column("code", String), Column("name", String), Column("base_unit", String),
        Column("active", Boolean), Column("lot_tracked", Boolean),
        Column("unit_price", Numeric(14, 4)),
    ]  # fmt: skip


def _read_sku(c: Cells) -> tuple[object, ...]:
    n = c.row.number
    code = c.get(lambda: checked_code(c.row.text("code") or "", field="code", max_length=64, row=n))
    name = c.text("name", required=True)
    price = c.decimal("unit_price")
    if price is not None:
        if price < 0:
            c.bad("unit_price", "must not be negative")
        elif abs(price) >= _PRICE_LIMIT or _decimal_places(price) > 4:
            c.bad("unit_price", f"must be below {_PRICE_LIMIT:,} with at most 4 decimals")
    return (
        code,
        None if name is None else name[:200],
        c.text("base_unit", max_length=16) or "each",
        c.flag("active", default=True),
        c.flag("lot_tracked", default=False),
        price,
    )


def _check_skus(conn: Connection, table: Table, problems: Problems) -> None:
    _repeats(conn, table, ["code"], "SKU", problems)
    taken = select(table.c.row, table.c.code).join(skus, skus.c.code == table.c.code)
    check_query(
        conn, taken,
        lambda r: AlreadyExists(f"SKU {r.code} already exists", field="code"), problems,
    )  # fmt: skip


def _write_skus(conn: Connection, table: Table, now: datetime) -> None:
    columns = ["code", "name", "base_unit", "active", "lot_tracked", "unit_price"]
    rows = select(
        *(table.c[c] for c in columns),
        literal({}, JSON).label("attributes"),
        literal(now, skus.c.created_at.type).label("created_at"),
    ).order_by(table.c.row)
    conn.execute(skus.insert().from_select([*columns, "attributes", "created_at"], rows))


# locations ---------------------------------------------------------------------------
def _location_staging() -> list[Column[Any]]:
    return [
        Column("code", String), Column("name", String), Column("kind", String),
        Column("address", String), Column("latitude", Numeric(9, 6)),
        Column("longitude", Numeric(9, 6)), Column("allow_negative", Boolean),
    ]  # fmt: skip


def _read_location(c: Cells) -> tuple[object, ...]:
    n = c.row.number
    code = c.get(lambda: checked_code(c.row.text("code") or "", field="code", max_length=32, row=n))
    kind = (c.text("kind") or LocationKind.WAREHOUSE.value).lower()
    if kind not in {k.value for k in LocationKind}:
        kinds = ", ".join(k.value for k in LocationKind)
        c.bad("kind", f"unknown kind {kind!r}; use one of: {kinds}")
    latitude, longitude = c.decimal("latitude"), c.decimal("longitude")
    if latitude is not None and not -90 <= latitude <= 90:
        c.bad("latitude", "must be between -90 and 90")
    if longitude is not None and not -180 <= longitude <= 180:
        c.bad("longitude", "must be between -180 and 180")
    name = c.text("name", max_length=200) or code
    address = c.text("address")
    return (code, name, kind, address, latitude, longitude,
            c.flag("allow_negative", default=False))  # fmt: skip


def _check_locations(conn: Connection, table: Table, problems: Problems) -> None:
    _repeats(conn, table, ["code"], "location", problems)
    taken = select(table.c.row, table.c.code).join(locations, locations.c.code == table.c.code)
    check_query(
        conn, taken,
        lambda r: AlreadyExists(f"location {r.code} already exists", field="code"), problems,
    )  # fmt: skip


def _write_locations(conn: Connection, table: Table, now: datetime) -> None:
    columns = ["code", "name", "kind", "address", "latitude", "longitude", "allow_negative"]
    rows = select(
        *(table.c[c] for c in columns), literal(now, locations.c.created_at.type).label("at")
    ).order_by(table.c.row)
    conn.execute(locations.insert().from_select([*columns, "created_at"], rows))
    default_bins = (
        select(locations.c.id, literal(DEFAULT_BIN).label("code"), literal(0).label("sequence"))
        .join(table, table.c.code == locations.c.code)
        .order_by(table.c.row)
    )
    conn.execute(bins.insert().from_select(["location_id", "code", "sequence"], default_bins))


# bins --------------------------------------------------------------------------------
def _bin_staging() -> list[Column[Any]]:
    return [
        Column("location", String), Column("code", String), Column("zone", String),
        Column("sequence", Integer), Column("role", String), Column("capacity", Integer),
    ]  # fmt: skip


def _read_bin(c: Cells) -> tuple[object, ...]:
    n = c.row.number
    location = c.text("location", required=True)
    code = c.get(lambda: checked_code(c.row.text("code") or "", field="code", max_length=32, row=n))
    sequence = c.whole("sequence")
    if sequence is not None:
        sequence = c.get(lambda: non_negative_quantity(sequence, field="sequence", row=n))
    role = c.text("role", max_length=16) or BinRole.STORAGE.value
    if role not in {r.value for r in BinRole}:
        choices = ", ".join(r.value for r in BinRole)
        c.bad("role", f"unknown bin role {role!r}; use one of: {choices}")
    capacity = c.whole("capacity")
    if capacity is not None:
        capacity = c.get(lambda: positive_quantity(capacity, field="capacity", row=n))
    return (location, code, c.text("zone", max_length=32), sequence or 0, role, capacity)


def _check_bins(conn: Connection, table: Table, problems: Problems) -> None:
    place = locations.alias("place")
    unknown = (
        select(table.c.row, table.c.location)
        .outerjoin(place, place.c.code == table.c.location)
        .where(table.c.location.is_not(None), place.c.id.is_(None))
    )
    check_query(
        conn, unknown,
        lambda r: UnknownLocation(f"no location with code {r.location!r}", field="location"),
        problems,
    )  # fmt: skip
    _repeats(conn, table, ["location", "code"], "bin", problems)
    taken = (
        select(table.c.row, table.c.code, table.c.location)
        .join(place, place.c.code == table.c.location)
        .join(bins, and_(bins.c.location_id == place.c.id, bins.c.code == table.c.code))
    )
    check_query(
        conn, taken,
        lambda r: AlreadyExists(f"bin {r.code} already exists in {r.location}", field="code"),
        problems,
    )  # fmt: skip


def _write_bins(conn: Connection, table: Table, _now: datetime) -> None:
    columns = ["code", "zone", "sequence", "role", "capacity"]
    rows = (
        select(locations.c.id, *(table.c[c] for c in columns))
        .join(locations, locations.c.code == table.c.location)
        .order_by(table.c.row)
    )
    conn.execute(bins.insert().from_select(["location_id", *columns], rows))


# shared ------------------------------------------------------------------------------
def _repeats(
    conn: Connection, table: Table, keys: list[str], what: str, problems: Problems
) -> None:
    """Two rows for the same thing: an error on the later row naming both rows."""
    firsts = (
        select(*(table.c[k] for k in keys), func.min(table.c.row).label("first"))
        .where(*(table.c[k].is_not(None) for k in keys))
        .group_by(*(table.c[k] for k in keys))
        .having(func.count() > 1)
        .subquery("firsts")
    )
    again = select(table.c.row, firsts.c.first, *(table.c[k] for k in keys)).join(
        firsts, and_(*(firsts.c[k] == table.c[k] for k in keys), table.c.row > firsts.c.first)
    )

    def complaint(r: Any) -> StockflowError:
        key = r.code if keys == ["code"] else f"{r.code} in {r.location}"
        return InvalidInput(f"{what} {key} appears twice: rows {r.first} and {r.row}", field="code")

    check_query(conn, again, complaint, problems)


def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


_SKUS = _Kind("skus", SKU_COLUMNS, _sku_staging, _read_sku, _check_skus, _write_skus)
_LOCATIONS = _Kind(
    "locations", LOCATION_COLUMNS, _location_staging, _read_location, _check_locations,
    _write_locations,
)  # fmt: skip
_BINS = _Kind("bins", BIN_COLUMNS, _bin_staging, _read_bin, _check_bins, _write_bins)
