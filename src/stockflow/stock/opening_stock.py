"""Opening stock: a file of receipts, checked and posted set-based, as one unit.

The file's rows are staged, resolved against the catalogue in one statement
(SKU, location, bin, the lot's known expiry), and checked there: an unknown
SKU, location or bin, an inactive SKU, a lot where none belongs or none where
one does, two expiry dates for one lot. Then, in the global lock order, the
receipts land as a receipt would from anywhere else: lots are recorded, the
positions raised (created where new), one ledger row written per file row,
the ``stock.changed`` totals told (``stock.changes``) and ``StockFreed``
recorded, so that waiting orders get the stock after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    String,
    Table,
    and_,
    func,
    literal,
    select,
    true,
)

from stockflow.adapters.database import Running
from stockflow.adapters.outbox import record
from stockflow.adapters.sheets import Cells, Columns, read_sheet
from stockflow.adapters.staging import fill, load, staged
from stockflow.adapters.tables import bins, locations, lots, positions, skus, stock_moves
from stockflow.adapters.upsert import upsert
from stockflow.errors import (
    Conflict,
    InactiveSku,
    InvalidInput,
    Problems,
    UnknownBin,
    UnknownLocation,
    UnknownSku,
)
from stockflow.stock.changes import touched
from stockflow.stock.import_checks import RowCheck, check_query, check_rows, read_rows
from stockflow.stock.import_runs import ImportSummary, ProgressCallback, run_import
from stockflow.stock.rules.events import StockFreed
from stockflow.stock.rules.places import DEFAULT_BIN
from stockflow.stock.rules.quantities import positive_quantity

STOCK_COLUMNS = Columns(("sku", "location", "qty"), ("bin", "lot", "expires_on"))
ACTOR = "import"
KIND = "stock"


def import_opening_stock(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> ImportSummary:
    """Receive every row of the file as a ``receipt`` move, or none (see the module's note)."""
    sheet_name, count = path.name, 0

    def prepare() -> Callable[[Connection], tuple[None, int, dict[str, Any]]]:
        nonlocal sheet_name, count
        found = Problems(columns=STOCK_COLUMNS.all())
        sheet = read_sheet(path, STOCK_COLUMNS, problems=found)
        sheet_name, count = sheet.name, len(sheet.rows)
        rows = read_rows(sheet.rows, _read, found, progress)
        codes = {str(r[1]) for r in rows if r[1] is not None}
        reference = f"import:{sheet.name}"[:128]

        def work(conn: Connection) -> tuple[None, int, dict[str, Any]]:
            problems = found.copy()
            now = sf.clock()
            with (
                staged(conn, "import_rows", *_staging()) as table,
                staged(conn, "import_resolved", *_resolved_columns()) as resolved,
            ):
                load(conn, table, rows, count=count)
                fill(conn, resolved, _resolve(table))
                _check(conn, resolved, problems)
                problems.raise_any()
                units = _post(conn, resolved, reference=reference, now=now)
            record(conn, StockFreed.of(codes, "import"), now=now)
            if progress is not None:
                progress(count, count)
            return None, count, {"rows": count, "units": units, "skus": len(codes)}

        return work

    outcome = run_import(sf, path, KIND, prepare, dry_run=dry_run)
    done = ImportSummary(KIND, sheet_name, count, outcome.seconds, dry_run=dry_run)
    return replace(done, earlier=outcome.earlier, followup_failed=outcome.followup_failed)


def _staging() -> list[Column[Any]]:
    return [
        Column("sku", String), Column("location", String), Column("bin", String),
        Column("lot", String), Column("expires_on", Date), Column("qty", BigInteger),
    ]  # fmt: skip


def _read(c: Cells) -> tuple[object, ...]:
    n = c.row.number
    sku = c.text("sku", required=True)
    location = c.text("location", required=True)
    qty = c.whole("qty", required=True)
    if qty is not None:
        qty = c.get(lambda: positive_quantity(qty, field="qty", row=n))
    bin_code = c.text("bin", max_length=32)
    lot = c.text("lot", max_length=64)
    return (sku, location, bin_code, lot, c.day("expires_on"), qty)


def _resolved_columns() -> list[Column[Any]]:
    return [
        *_staging(),
        Column("sku_id", BigInteger), Column("active", Boolean), Column("lot_tracked", Boolean),
        Column("location_id", BigInteger), Column("bin_id", BigInteger),
        Column("known_expiry", Date),
    ]  # fmt: skip


def _resolve(table: Table) -> Any:
    """Each staged row with its SKU, location, bin and known lot looked up (NULL: not found)."""
    bin_code = func.coalesce(table.c.bin, DEFAULT_BIN)
    return (
        select(
            table.c.row,
            table.c.sku,
            table.c.location,
            bin_code,
            table.c.lot,
            table.c.expires_on,
            table.c.qty,
            skus.c.id,
            skus.c.active,
            skus.c.lot_tracked,
            locations.c.id,
            bins.c.id,
            lots.c.expires_on,
        )
        .select_from(table)
        .outerjoin(skus, skus.c.code == table.c.sku)
        .outerjoin(locations, locations.c.code == table.c.location)
        .outerjoin(bins, and_(bins.c.location_id == locations.c.id, bins.c.code == bin_code))
        .outerjoin(lots, and_(lots.c.sku_id == skus.c.id, lots.c.code == table.c.lot))
    )


def _check(conn: Connection, r: Table, problems: Problems) -> None:
    """Every problem of the staged rows against the catalogue, and with lots' expiry dates."""
    c = r.c
    checks = [
        RowCheck(
            c.sku.is_not(None) & c.sku_id.is_(None),
            lambda x: UnknownSku(f"no SKU with code {x.sku!r}", field="sku"),
        ),
        RowCheck(
            c.sku_id.is_not(None) & ~c.active,
            lambda x: InactiveSku(f"SKU {x.sku} is inactive", field="sku"),
        ),
        RowCheck(
            c.location.is_not(None) & c.location_id.is_(None),
            lambda x: UnknownLocation(f"no location with code {x.location!r}", field="location"),
        ),
        RowCheck(
            c.location_id.is_not(None) & c.bin_id.is_(None),
            lambda x: UnknownBin(f"location {x.location} has no bin {x.bin!r}", field="bin"),
        ),
        RowCheck(
            c.lot_tracked & c.lot.is_(None),
            lambda x: InvalidInput(f"SKU {x.sku} is lot-tracked: say which lot", field="lot"),
        ),
        RowCheck(
            ~c.lot_tracked & c.lot.is_not(None),
            lambda x: InvalidInput(
                f"SKU {x.sku} is not lot-tracked: leave the lot empty", field="lot"
            ),
        ),
        RowCheck(
            ~c.lot_tracked & c.expires_on.is_not(None),
            lambda x: InvalidInput(
                f"SKU {x.sku} is not lot-tracked: only lots expire", field="expires_on"
            ),
        ),
        RowCheck(
            c.lot_tracked
            & c.expires_on.is_not(None)
            & c.known_expiry.is_not(None)
            & (c.expires_on != c.known_expiry),
            lambda x: Conflict(
                f"lot {x.lot} of SKU {x.sku} expires on {x.known_expiry}, not {x.expires_on}",
                field="expires_on",
            ),
        ),
    ]
    check_rows(conn, r, checks, problems)
    _check_one_expiry(conn, r, problems)


def _check_one_expiry(conn: Connection, r: Table, problems: Problems) -> None:
    """One lot has one expiry date: a row whose date differs from the lot's first names both."""
    dated = (r.c.lot.is_not(None), r.c.expires_on.is_not(None), r.c.sku_id.is_not(None))
    first_rows = (
        select(r.c.sku_id, r.c.lot, func.min(r.c.row).label("first"))
        .where(*dated)
        .group_by(r.c.sku_id, r.c.lot)
        .having(func.count(func.distinct(r.c.expires_on)) > 1)
        .subquery("first_rows")
    )
    first = r.alias("first_dated")
    clashes = (
        select(
            r.c.row,
            r.c.sku,
            r.c.lot,
            r.c.expires_on,
            first.c.row.label("first_row"),
            first.c.expires_on.label("first_date"),
        )
        .join(first_rows, and_(first_rows.c.sku_id == r.c.sku_id, first_rows.c.lot == r.c.lot))
        .join(first, first.c.row == first_rows.c.first)
        .where(*dated, r.c.expires_on != first.c.expires_on)
    )
    check_query(
        conn, clashes,
        lambda x: InvalidInput(
            f"lot {x.lot} of SKU {x.sku} expires on {x.first_date} on row {x.first_row} "
            f"but on {x.expires_on} here",
            field="expires_on",
        ),
        problems,
    )  # fmt: skip


def _post(conn: Connection, r: Table, *, reference: str, now: datetime) -> int:
    """Record lots, raise positions in lock order, write one receipt per row; the units."""
    lot_code = func.coalesce(r.c.lot, "")
    dated = (
        select(r.c.sku_id, r.c.lot, func.max(r.c.expires_on))
        .where(r.c.lot.is_not(None), true())
        .group_by(r.c.sku_id, r.c.lot)
    )
    new_lots = upsert(conn, lots).from_select(["sku_id", "code", "expires_on"], dated)
    conn.execute(
        new_lots.on_conflict_do_update(
            index_elements=["sku_id", "code"],
            set_={"expires_on": new_lots.excluded.expires_on},
            where=lots.c.expires_on.is_(None),
        )
    )
    key = (r.c.sku_id, r.c.location_id, r.c.bin_id, lot_code)
    # Grouped by position and in the global lock order: a long import cannot
    # deadlock a reservation that locks some of the same positions.
    raised = select(*key, func.sum(r.c.qty)).where(true()).group_by(*key).order_by(*key)
    landing = upsert(conn, positions).from_select(
        ["sku_id", "location_id", "bin_id", "lot_code", "on_hand"], raised
    )
    ids = (
        conn.execute(
            landing.on_conflict_do_update(
                index_elements=["sku_id", "location_id", "bin_id", "lot_code"],
                set_={"on_hand": positions.c.on_hand + landing.excluded.on_hand},
            ).returning(positions.c.id)
        )
        .scalars()
        .all()
    )
    moves = (
        select(
            r.c.sku_id,
            r.c.qty,
            positions.c.id,
            literal("receipt"),
            literal(ACTOR),
            literal(reference),
            literal(now, stock_moves.c.created_at.type),
        )
        .join(
            positions,
            and_(
                positions.c.sku_id == r.c.sku_id,
                positions.c.location_id == r.c.location_id,
                positions.c.bin_id == r.c.bin_id,
                positions.c.lot_code == lot_code,
            ),
        )
        .order_by(r.c.row)
    )
    columns = ["sku_id", "qty", "to_position_id", "reason", "actor", "reference", "created_at"]
    conn.execute(stock_moves.insert().from_select(columns, moves))
    touched(conn, ids, now=now)
    units = conn.execute(select(func.coalesce(func.sum(r.c.qty), 0))).scalar_one()
    return int(units)
