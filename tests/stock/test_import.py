"""Bulk import: every file goes in whole or not at all, and errors name row and column."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from helpers import add_sku, receive, setup_places, write_sheet
from stockflow.adapters.tables import metadata
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.errors import (
    AlreadyExists,
    Conflict,
    InactiveSku,
    InvalidInput,
    StockflowError,
    UnknownBin,
    UnknownLocation,
    UnknownSku,
)
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.imports import import_bins, import_locations, import_skus, import_stock
from stockflow.stock.queries.catalogue import bin_page, location_page, sku_page
from stockflow.stock.queries.ledger import ledger_page
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn

IMPORTERS = {
    "skus": import_skus,
    "locations": import_locations,
    "bins": import_bins,
    "stock": import_stock,
}
STOCK_HEADER = ["sku", "location", "bin", "lot", "expires_on", "qty"]


@pytest.fixture(params=["csv", "xlsx"])
def suffix(request: pytest.FixtureRequest) -> str:
    """Each file-based test runs on a CSV and on an XLSX file."""
    return str(request.param)


def table_counts(sf: Stockflow) -> dict[str, int]:
    """Rows per table: equal before and after means nothing was written."""
    with sf.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def stocked(sf: Stockflow) -> None:
    """WH1 (bins A-01, A-02); BOLT 5 on hand; MILK lot L1 (expires 2030-01-01); OLD inactive."""
    setup_places(sf)
    add_sku(sf, "BOLT")
    add_sku(sf, "MILK", lot_tracked=True)
    add_sku(sf, "OLD")
    sf.set_sku_active("OLD", False)
    receive(sf, "BOLT", 5)
    receive(sf, "MILK", 3, lot="L1", expires_on=date(2030, 1, 1))


# happy paths -----------------------------------------------------------------
def test_skus_import_with_loose_headers_booleans_and_exact_prices(
    sf: Stockflow, tmp_path: Path, suffix: str
) -> None:
    path = write_sheet(
        tmp_path / f"skus.{suffix}",
        [
            ["Code", "Name", "Base Unit", "Active", "lot-tracked", "Unit Price"],
            ["BOLT-M8", "Hex bolt M8", "each", True, "no", Decimal("0.1")],
            [],
            ["GLUE-1", "Wood glue", "tube", "No", "YES", "4.2000"],
            ["TAPE", "Packing tape", None, 1, 0, None],
        ],
    )
    calls: list[tuple[int, int]] = []
    summary = import_skus(sf, path, progress=lambda done, total: calls.append((done, total)))
    assert (summary.kind, summary.rows, summary.file) == ("skus", 3, path.name)
    assert calls[-1] == (3, 3)
    with sf.db.read() as conn:
        got = {s.code: s for s in sku_page(conn, after=None, limit=10)}
    assert sorted(got) == ["BOLT-M8", "GLUE-1", "TAPE"]
    assert (got["BOLT-M8"].active, got["BOLT-M8"].lot_tracked) == (True, False)
    assert (got["GLUE-1"].active, got["GLUE-1"].lot_tracked, got["GLUE-1"].base_unit) == (
        False,
        True,
        "tube",
    )
    assert (got["TAPE"].active, got["TAPE"].base_unit, got["TAPE"].unit_price) == (
        True,
        "each",
        None,
    )
    assert isinstance(got["BOLT-M8"].unit_price, Decimal)
    assert got["BOLT-M8"].unit_price == Decimal("0.1")
    assert got["GLUE-1"].unit_price == Decimal("4.2")


def test_locations_import_with_default_bins(sf: Stockflow, tmp_path: Path, suffix: str) -> None:
    path = write_sheet(
        tmp_path / f"locations.{suffix}",
        [
            ["code", "name", "kind", "address", "latitude", "longitude", "allow_negative"],
            ["AMS", "Amsterdam DC", "DC", "Amsterdam, NL", "52.370216", 4.895168, "false"],
            ["UTR", None, "store", None, None, None, "yes"],
        ],
    )
    assert import_locations(sf, path).rows == 2
    with sf.db.read() as conn:
        places = {x.code: x for x in location_page(conn, limit=100)}
        assert [b.code for b in bin_page(conn, "AMS", limit=100)] == ["MAIN"]
    assert (places["AMS"].kind, places["AMS"].latitude) == ("dc", Decimal("52.370216"))
    assert (places["UTR"].name, places["UTR"].allow_negative) == ("UTR", True)


def test_bins_import_into_existing_locations(sf: Stockflow, tmp_path: Path, suffix: str) -> None:
    sf.add_locations([NewLocation("WH1", "Warehouse 1"), NewLocation("WH2", "Warehouse 2")])
    path = write_sheet(
        tmp_path / f"bins.{suffix}",
        [
            ["location", "code", "zone", "sequence"],
            ["WH1", "A-01", "A", 1],
            ["WH1", "A-02", "A", "2.0"],
            ["WH2", "A-01", None, None],
        ],
    )
    assert import_bins(sf, path).rows == 3
    with sf.db.read() as conn:
        wh1 = [(b.code, b.zone, b.sequence) for b in bin_page(conn, "WH1", limit=100)]
        wh2 = [(b.code, b.zone, b.sequence) for b in bin_page(conn, "WH2", limit=100)]
    assert wh1 == [("MAIN", None, 0), ("A-01", "A", 1), ("A-02", "A", 2)]
    assert wh2 == [("A-01", None, 0), ("MAIN", None, 0)]


def test_stock_import_posts_one_receipt_per_row(sf: Stockflow, tmp_path: Path, suffix: str) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    add_sku(sf, "MILK", lot_tracked=True)
    path = write_sheet(
        tmp_path / f"opening.{suffix}",
        [
            STOCK_HEADER,
            ["BOLT", "WH1", None, None, None, "40"],
            [],
            ["BOLT", "WH1", "A-01", None, None, 5.0],
            ["MILK", "WH1", "A-02", "L7", date(2030, 1, 31), 12],
            ["MILK", "WH1", "A-02", "L7", None, 3],
        ],
    )
    calls: list[tuple[int, int]] = []
    summary = import_stock(sf, path, progress=lambda done, total: calls.append((done, total)))
    assert summary.rows == 4
    assert calls[0] == (0, 4)
    assert calls[-1] == (4, 4)
    held = {(p.sku, p.bin, p.lot, p.expires_on): p.on_hand for p in sf.positions()}
    assert held == {
        ("BOLT", "MAIN", None, None): 40,
        ("BOLT", "A-01", None, None): 5,
        ("MILK", "A-02", "L7", date(2030, 1, 31)): 15,
    }
    with sf.db.read() as conn:
        moves = ledger_page(conn, limit=10)
    assert {(m.reason, m.actor, m.reference) for m in moves} == {
        ("receipt", "import", f"import:opening.{suffix}")
    }
    assert sorted(m.qty for m in moves) == [3, 5, 12, 40]
    assert sf.verify() == []


def test_csv_with_bom_semicolons_and_crlf(sf: Stockflow, tmp_path: Path) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    path = tmp_path / "stock.csv"
    path.write_bytes(b"\xef\xbb\xbfsku;location;qty\r\nBOLT;WH1;7\r\n\r\nBOLT;WH1;x\r\n")
    with pytest.raises(InvalidInput) as caught:
        import_stock(sf, path)
    assert (caught.value.field, caught.value.row) == ("qty", 4)
    path.write_bytes(b"\xef\xbb\xbfsku;location;qty\r\nBOLT;WH1;7\r\n")
    assert import_stock(sf, path).rows == 1
    assert [p.on_hand for p in sf.positions(sku="BOLT")] == [7]


# bad input: the error names field and row, and nothing is written -----------
BAD_FILES = [
    # header
    ("stock", [["BOLT", "WH1", "1"], ["BOLT", "WH1", 1]], InvalidInput, "bolt", 1, "unknown col"),
    ("skus", [["code", "name", "colour"], ["A", "a", "red"]], InvalidInput, "colour", 1, "colour"),
    ("stock", [["sku", "qty"], ["BOLT", 1]], InvalidInput, "location", 1, "missing column"),
    ("stock", [["sku", "location", "qty", "QTY"], ["BOLT", "WH1", 1, 1]], InvalidInput, "qty", 1,
     "appears twice"),
    ("stock", [["sku", "location", "qty"]], InvalidInput, None, None, "no data rows"),
    ("stock", [["sku", "location", "qty"], ["BOLT", "WH1", 1, "x"]], InvalidInput, None, 2,
     "column D"),
    # types and quantities
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, 5.5]], InvalidInput, "qty", 2,
     "whole number"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, "abc"]], InvalidInput, "qty", 2,
     "whole number"),
    ("stock", [STOCK_HEADER, [], ["BOLT", "WH1", None, None, None, 0]], InvalidInput, "qty", 3,
     "greater than 0"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, -3]], InvalidInput, "qty", 2,
     "greater than 0"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, 10**10]], InvalidInput, "qty", 2,
     "at most"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, "1e30"]], InvalidInput, "qty", 2,
     "too large"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, None]], InvalidInput, "qty", 2,
     "required"),
    ("stock", [STOCK_HEADER, [None, "WH1", None, None, None, 1]], InvalidInput, "sku", 2,
     "required"),
    # stock against the catalogue
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, 1], ["NOPE", "WH1", None, None,
     None, 1]], UnknownSku, "sku", 3, "NOPE"),
    ("stock", [STOCK_HEADER, ["BOLT", "XX", None, None, None, 1]], UnknownLocation, "location", 2,
     "XX"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", "Z-99", None, None, 1]], UnknownBin, "bin", 2,
     "Z-99"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, "L1", None, 1]], InvalidInput, "lot", 2,
     "not lot-tracked"),
    ("stock", [STOCK_HEADER, ["MILK", "WH1", None, None, None, 1]], InvalidInput, "lot", 2,
     "say which lot"),
    ("stock", [STOCK_HEADER, ["MILK", "WH1", None, "L2", "31/12/2030", 1]], InvalidInput,
     "expires_on", 2, "yyyy-mm-dd"),
    ("stock", [STOCK_HEADER, ["MILK", "WH1", None, "L2", "2030-02-30", 1]], InvalidInput,
     "expires_on", 2, "yyyy-mm-dd"),
    ("stock", [STOCK_HEADER, ["BOLT", "WH1", None, None, "2030-01-01", 1]], InvalidInput,
     "expires_on", 2, "only lots expire"),
    ("stock", [STOCK_HEADER, ["OLD", "WH1", None, None, None, 1]], InactiveSku, "sku", 2,
     "inactive"),
    ("stock", [STOCK_HEADER, ["MILK", "WH1", None, "L2", "2030-05-01", 1], ["MILK", "WH1", "A-01",
     "L2", "2030-06-01", 1]], InvalidInput, "expires_on", 3, "row 2"),
    # the catalogue already knows L1 with another date: found while posting, after other rows
    ("stock", [STOCK_HEADER, *[["BOLT", "WH1", None, None, None, 1]] * 300, ["MILK", "WH1", None,
     "L1", "2031-01-01", 1]], Conflict, "expires_on", 302, "2030-01-01"),
    # SKUs
    ("skus", [["code", "name"], ["A", "a"], [], ["A", "again"]], InvalidInput, "code", 4,
     "rows 2 and 4"),
    ("skus", [["code", "name"], ["NEW", "n"], ["BOLT", "b"]], AlreadyExists, "code", 3, "BOLT"),
    ("skus", [["code", "name", "lot_tracked"], ["A", "a", "maybe"]], InvalidInput, "lot_tracked",
     2, "true or false"),
    ("skus", [["code", "name", "unit_price"], ["A", "a", "12,50"]], InvalidInput, "unit_price", 2,
     "number"),
    ("skus", [["code", "name", "unit_price"], ["A", "a", "1.23456"]], InvalidInput, "unit_price",
     2, "4 decimals"),
    ("skus", [["code", "name"], ["A", "a"], ["B", None]], InvalidInput, "name", 3, "required"),
    ("skus", [["code", "name"], ["A B", "a"]], InvalidInput, "code", 2, "letters"),
    # locations
    ("locations", [["code"], ["AMS"], ["AMS"]], InvalidInput, "code", 3, "rows 2 and 3"),
    ("locations", [["code", "kind"], ["AMS", "castle"]], InvalidInput, "kind", 2, "castle"),
    ("locations", [["code", "latitude"], ["AMS", 95]], InvalidInput, "latitude", 2, "-90"),
    ("locations", [["code"], ["AMS"], ["WH1"]], AlreadyExists, "code", 3, "WH1"),
    # bins
    ("bins", [["location", "code"], ["WH1", "B-01"], ["XX", "B-01"]], UnknownLocation, "location",
     3, "XX"),
    ("bins", [["location", "code"], ["WH1", "B-01"], ["WH1", "B-01"]], InvalidInput, "code", 3,
     "rows 2 and 3"),
    ("bins", [["location", "code"], ["WH1", "B-01"], ["WH1", "A-01"]], AlreadyExists, "code", 3,
     "A-01"),
    ("bins", [["location", "code", "sequence"], ["WH1", "B-01", 1.5]], InvalidInput, "sequence", 2,
     "whole number"),
    ("bins", [["location", "code", "sequence"], ["WH1", "B-01", -1]], InvalidInput, "sequence", 2,
     "negative"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "rows", "error", "field", "row", "words"),
    BAD_FILES,
    ids=[f"{c[0]}-{c[3]}-{c[5]}" for c in BAD_FILES],
)
def test_bad_file_names_field_and_row_and_changes_nothing(
    sf: Stockflow,
    tmp_path: Path,
    suffix: str,
    kind: str,
    rows: list[list[object]],
    error: type[StockflowError],
    field: str | None,
    row: int | None,
    words: str,
) -> None:
    stocked(sf)
    before = table_counts(sf)
    path = write_sheet(tmp_path / f"{kind}.{suffix}", rows)
    with pytest.raises(error) as caught:
        IMPORTERS[kind](sf, path)
    assert (caught.value.field, caught.value.row) == (field, row)
    assert words in str(caught.value)
    assert table_counts(sf) == before
    assert sf.verify() == []


@pytest.mark.parametrize(
    ("content", "field", "row"),
    [
        (b"", None, None),
        (b"\n\r\n,,\n", None, None),
        (b"sku,location,qty\nBOLT,WH1,1\n\nCAF\xc9,WH1,2\n", "sku", 4),
        (b"sku,location,qty\nBOLT,WH1,1\nBOLT,WH1,\xff\n", "qty", 3),
        (b"sku,loca\xe7tion,qty\nBOLT,WH1,1\n", None, 1),
    ],
    ids=["empty", "blank-lines-only", "latin-1-in-sku", "bad-byte-in-qty", "bad-byte-in-header"],
)
def test_unreadable_csv_names_row_and_changes_nothing(
    sf: Stockflow, tmp_path: Path, content: bytes, field: str | None, row: int | None
) -> None:
    stocked(sf)
    before = table_counts(sf)
    path = tmp_path / "stock.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        import_stock(sf, path)
    assert (caught.value.field, caught.value.row) == (field, row)
    assert ("empty" if not content.strip(b"\n\r,") else "UTF-8") in str(caught.value)
    assert table_counts(sf) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("stock.xlsx", b"PK\x03\x04 not really a workbook"), ("stock.xls", b"\xd0\xcf\x11\xe0")],
)
def test_files_that_are_not_csv_or_xlsx_are_refused(
    sf: Stockflow, tmp_path: Path, name: str, content: bytes
) -> None:
    stocked(sf)
    before = table_counts(sf)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidInput) as caught:
        import_stock(sf, tmp_path / name)
    assert caught.value.field == "file"
    assert table_counts(sf) == before


def test_xlsx_date_cell_with_a_time_of_day_is_refused(sf: Stockflow, tmp_path: Path) -> None:
    stocked(sf)
    before = table_counts(sf)
    rows = [STOCK_HEADER, ["MILK", "WH1", None, "L2", datetime(2030, 5, 1, 14, 30), 1]]
    with pytest.raises(InvalidInput) as caught:
        import_stock(sf, write_sheet(tmp_path / "stock.xlsx", rows))
    assert (caught.value.field, caught.value.row) == ("expires_on", 2)
    assert table_counts(sf) == before


# command line ------------------------------------------------------------------
def test_cli_bad_row_exits_2_with_one_line_and_changes_nothing(
    sf: Stockflow, db_url: str, tmp_path: Path
) -> None:
    stocked(sf)
    before = table_counts(sf)
    rows = [STOCK_HEADER, ["BOLT", "WH1", None, None, None, 2], ["BOLT", "WH1", None, None, None,
            "5.5"]]  # fmt: skip
    path = write_sheet(tmp_path / "stock.csv", rows)
    result = CliRunner().invoke(app, ["import", "stock", str(path), "--db", db_url])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0
    assert "stock.csv: row 3, field 'qty': must be a whole number" in message
    assert "nothing was imported" in message
    assert table_counts(sf) == before


def test_cli_imports_a_good_file(sf: Stockflow, db_url: str, tmp_path: Path) -> None:
    stocked(sf)
    path = write_sheet(tmp_path / "stock.xlsx", [STOCK_HEADER, ["BOLT", "WH1", "A-01", None, None,
                       9]])  # fmt: skip
    result = CliRunner().invoke(app, ["import", "stock", str(path), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "stock: imported 1 row(s) from stock.xlsx" in result.stdout
    assert [p.on_hand for p in sf.positions(sku="BOLT", location="WH1") if p.bin == "A-01"] == [9]


# a crash in the middle of an import ----------------------------------------------
def _rows_done(stream: object, seen: list[int]) -> None:
    """Collect the 'done/total' counts the progress bar draws."""
    buffer = b""
    for chunk in iter(lambda: stream.read1(4096), b""):  # type: ignore[attr-defined]
        buffer = (buffer + chunk)[-400:]
        seen.extend(int(n) for n in re.findall(rb"(\d+)/\d+", buffer))


def _kill_mid_import(url: str, tmp_path: Path) -> None:
    sf = Stockflow.open(url)
    try:
        sf.add_locations([NewLocation("WH1", "Warehouse 1")])
        sf.add_skus([NewSku(f"S{n:03d}", f"Item {n}") for n in range(200)])
        rows = [["sku", "location", "qty"], *([f"S{n % 200:03d}", "WH1", 1] for n in range(30_000))]
        big = write_sheet(tmp_path / "BIG.csv", rows)
        before = table_counts(sf)
        env = {**os.environ, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "120"}
        command = [sys.executable, "-m", "stockflow", "import", "stock", str(big), "--db", url]
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        seen: list[int] = []
        reader = threading.Thread(target=_rows_done, args=(process.stderr, seen), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while max(seen, default=0) < 250 and process.poll() is None:
            assert time.monotonic() < deadline, "the import never showed progress"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        reader.join(timeout=10)
        assert process.returncode == -signal.SIGKILL, "the import ended before it was killed"
        assert 250 <= max(seen) < 30_000
        assert table_counts(sf) == before
        assert sf.positions() == []
        assert sf.verify() == []
    finally:
        sf.close()


@pytest.mark.slow
def test_import_killed_midway_leaves_nothing_on_sqlite(tmp_path: Path) -> None:
    _kill_mid_import(f"sqlite:///{tmp_path / 'killed.db'}", tmp_path)


@pytest.mark.slow
def test_import_killed_midway_leaves_nothing_on_postgresql(
    pg_only_url: str, tmp_path: Path
) -> None:
    _kill_mid_import(pg_only_url, tmp_path)


def test_a_stock_import_fills_an_order_that_was_waiting(
    sf: Stockflow, tmp_path: Path, suffix: str
) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    sf.orders.add_channel(NewChannel("WEB", "Web shop"))
    waiting = sf.orders.capture(
        CaptureOrder("WEB", (OrderLineIn("BOLT", 4),), ship_to="1 Dam Square, Amsterdam")
    )
    assert waiting.status == "backordered"
    path = write_sheet(
        tmp_path / f"opening.{suffix}", [STOCK_HEADER, ["BOLT", "WH1", None, None, None, 10]]
    )
    import_stock(sf, path)
    assert sf.orders.order(waiting.id).status == "allocated"
    assert sum(p.allocated for p in sf.positions(sku="BOLT")) == 4
