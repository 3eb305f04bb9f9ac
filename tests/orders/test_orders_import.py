"""Order sheets: every order of a file is captured or none is, and errors name row and column."""

from __future__ import annotations

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
    InsufficientStock,
    InvalidInput,
    StockflowError,
    UnknownSku,
)
from stockflow.orders import order_import
from stockflow.orders.order_import import import_orders
from stockflow.orders.order_refs import UnknownChannel, UnknownCustomer
from stockflow.orders.rules.parties import NewChannel, NewCustomer
from stockflow.stock.queries.orders import OrderView, order_page

HEADER = [
    "Channel",
    "External ID",
    "customer",
    "ship-to",
    "ship_to_latitude",
    "ship_to_longitude",
    "sku",
    "qty",
    "unit_price",
]
HOME = "1 Main St, Springfield"


@pytest.fixture(params=["csv", "xlsx"])
def suffix(request: pytest.FixtureRequest) -> str:
    """Each file-based test runs on a CSV and on an XLSX file."""
    return str(request.param)


@pytest.fixture
def shop(sf: Stockflow) -> Stockflow:
    """WH1 with 10 A and 4 B; WEB takes backorders, B2B (priority 5) does not; customer C1."""
    setup_places(sf)
    add_sku(sf, "A")
    add_sku(sf, "B")
    receive(sf, "A", 10)
    receive(sf, "B", 4)
    sf.orders.add_channel(NewChannel("WEB", "Web shop"))
    sf.orders.add_channel(NewChannel("B2B", "Trade", priority=5, backorder_policy="reject"))
    sf.orders.add_customer(NewCustomer("C1", "Ada"))
    return sf


def table_counts(sf: Stockflow) -> dict[str, int]:
    """Rows per table: equal before and after means nothing was written."""
    with sf.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def all_orders(sf: Stockflow) -> dict[tuple[str, str | None], OrderView]:
    with sf.db.read() as conn:
        return {(o.channel, o.external_id): o for o in order_page(conn, limit=1000)}


def allocated(sf: Stockflow, sku: str) -> int:
    return sum(p.allocated for p in sf.positions(sku=sku))


def sheet(tmp_path: Path, suffix: str, *rows: list[object]) -> Path:
    return write_sheet(tmp_path / f"orders.{suffix}", [HEADER, *rows])


GOOD = (
    ["WEB", "W-1", "C1", HOME, 52.1, 4.9, "A", 2, "1.50"],
    ["B2B", "T-7", None, "2 High St, Shelbyville", None, None, "A", 3, None],
    ["WEB", "W-2", None, "3 Side St, Springfield", None, None, "B", 10, None],
    ["WEB", "W-1", None, None, None, None, "B", 1, None],  # a later line of W-1
)


# happy paths -----------------------------------------------------------------
def test_sheet_rows_become_orders_grouped_by_channel_and_external_id(
    shop: Stockflow, tmp_path: Path, suffix: str
) -> None:
    seen: list[tuple[int, int]] = []
    summary = import_orders(
        shop, sheet(tmp_path, suffix, *GOOD), progress=lambda d, t: seen.append((d, t))
    )
    assert (summary.rows, summary.orders, summary.created, summary.replayed) == (4, 3, 3, 0)
    assert summary.by_status == {"allocated": 2, "backordered": 1}
    assert seen[-1] == (4, 4)
    found = all_orders(shop)
    assert sorted(found) == [("B2B", "T-7"), ("WEB", "W-1"), ("WEB", "W-2")]
    w1 = found[("WEB", "W-1")]
    assert (w1.customer, w1.ship_to, w1.status) == ("C1", HOME, "allocated")
    assert [(ln.line_no, ln.sku, ln.qty, ln.unit_price) for ln in w1.lines] == [
        (1, "A", 2, Decimal("1.5000")),
        (2, "B", 1, None),
    ]
    assert w1.value == Decimal("3.0000")
    assert found[("WEB", "W-2")].status == "backordered"
    assert found[("WEB", "W-2")].lines[0].waiting == 10
    assert (allocated(shop, "A"), allocated(shop, "B")) == (5, 1)
    assert shop.verify() == []


def test_reimporting_the_same_file_captures_nothing_twice(
    shop: Stockflow, tmp_path: Path, suffix: str
) -> None:
    path = sheet(tmp_path, suffix, *GOOD)
    import_orders(shop, path)
    before = table_counts(shop)
    again = import_orders(shop, path)
    assert (again.orders, again.created, again.replayed, again.by_status) == (3, 0, 3, {})
    assert table_counts(shop) == before
    assert (allocated(shop, "A"), allocated(shop, "B")) == (5, 1)
    assert shop.verify() == []


def test_higher_priority_channel_is_served_first_whatever_the_file_order(
    shop: Stockflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One order per capture batch: the file's priority order must hold across batches too.
    monkeypatch.setattr(order_import, "_CHUNK", 1)
    path = sheet(
        tmp_path,
        "csv",
        ["WEB", "W-1", None, HOME, None, None, "A", 8, None],
        ["B2B", "T-1", None, HOME, None, None, "A", 3, None],
    )
    import_orders(shop, path)
    found = all_orders(shop)
    assert found[("B2B", "T-1")].status == "allocated"
    assert found[("WEB", "W-1")].status == "backordered"
    assert allocated(shop, "A") == 3


def test_a_sheet_larger_than_one_capture_batch_goes_in_whole(
    shop: Stockflow, tmp_path: Path
) -> None:
    receive(shop, "A", 1_190)
    rows = [["WEB", f"W-{n}", None, HOME, None, None, "A", 1, None] for n in range(1_200)]
    path = sheet(tmp_path, "csv", *rows)
    summary = import_orders(shop, path)
    assert (summary.orders, summary.created, summary.by_status) == (
        1_200,
        1_200,
        {"allocated": 1_200},
    )
    assert import_orders(shop, path).replayed == 1_200
    assert allocated(shop, "A") == 1_200
    assert shop.verify() == []


# bad files -------------------------------------------------------------------
W1 = ["WEB", "W-1", None, HOME, None, None, "A", 1, None]


@pytest.mark.parametrize(
    ("rows", "error", "row", "field"),
    [
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 2.5, None]], InvalidInput, 3, "qty"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 0, None]], InvalidInput, 3, "qty"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", None, None]], InvalidInput, 3, "qty"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, None, 1, None]], InvalidInput, 3, "sku"),
        ([W1, ["WEB", None, None, HOME, None, None, "A", 1, None]], InvalidInput, 3, "external_id"),
        ([W1, [None, "W-2", None, HOME, None, None, "A", 1, None]], InvalidInput, 3, "channel"),
        ([W1, ["WEB", "W-1", None, None, None, None, "A", 2, None]], InvalidInput, 3, "sku"),
        ([W1, ["WEB", "W-1", None, "Elsewhere 9, X", None, None, "B", 1, None]], InvalidInput, 3,
         "ship_to"),
        ([W1, ["WEB", "W-2", None, None, None, None, "A", 1, None]], InvalidInput, 3, "ship_to"),
        ([W1, ["WEB", "W-2", None, HOME, 95, 4, "A", 1, None]], InvalidInput, 3,
         "ship_to_latitude"),
        ([W1, ["WEB", "W-2", None, HOME, 52, None, "A", 1, None]], InvalidInput, 3,
         "ship_to_longitude"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 1, -1]], InvalidInput, 3, "unit_price"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 1, "1.23456"]], InvalidInput, 3,
         "unit_price"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "NOPE", 1, None]], UnknownSku, 3, "sku"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 1, None],
          ["WEB", "W-2", None, None, None, None, "NOPE", 1, None]], UnknownSku, 4, "sku"),
        ([W1, ["POST", "P-1", None, HOME, None, None, "A", 1, None]], UnknownChannel, 3,
         "channel"),
        ([W1, ["WEB", "W-2", None, HOME, None, None, "A", 1, None],
          ["WEB", "W-2", "NOPE", None, None, None, "B", 1, None]], UnknownCustomer, 4, "customer"),
        # B2B takes no backorders: 5 B are wanted, 4 are there; the earlier orders go too.
        ([W1, ["B2B", "T-1", None, HOME, None, None, "A", 1, None],
          ["B2B", "T-1", None, None, None, None, "B", 5, None]], InsufficientStock, 4, "qty"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_and_nothing_is_written(
    shop: Stockflow,
    tmp_path: Path,
    suffix: str,
    rows: list[list[object]],
    error: type[StockflowError],
    row: int,
    field: str,
) -> None:
    before = table_counts(shop)
    with pytest.raises(error) as caught:
        import_orders(shop, sheet(tmp_path, suffix, *rows))
    assert (caught.value.row, caught.value.field) == (row, field), str(caught.value)
    assert table_counts(shop) == before
    assert (allocated(shop, "A"), allocated(shop, "B")) == (0, 0)


def test_header_without_a_required_column_is_refused(shop: Stockflow, tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "orders.csv", [["channel", "external_id", "sku"], W1[:3]])
    with pytest.raises(InvalidInput) as caught:
        import_orders(shop, path)
    assert (caught.value.row, caught.value.field) == (1, "ship_to")


def test_insufficient_stock_says_how_much_there_is(shop: Stockflow, tmp_path: Path) -> None:
    path = sheet(tmp_path, "csv", ["B2B", "T-1", None, HOME, None, None, "B", 6, None])
    with pytest.raises(InsufficientStock) as caught:
        import_orders(shop, path)
    assert (caught.value.sku, caught.value.requested, caught.value.available) == ("B", 6, 4)


# command line ------------------------------------------------------------------
def test_cli_imports_a_good_file(shop: Stockflow, db_url: str, tmp_path: Path) -> None:
    path = sheet(tmp_path, "xlsx", *GOOD)
    result = CliRunner().invoke(app, ["orders", "import", str(path), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "3 order(s) from 4 row(s) of orders.xlsx" in result.stdout
    assert "3 new (2 allocated, 1 backordered), 0 captured before" in result.stdout
    assert len(all_orders(shop)) == 3
    again = CliRunner().invoke(app, ["orders", "import", str(path), "--db", db_url])
    assert again.exit_code == 0, again.output
    assert "orders: orders.xlsx was already imported on " in again.stdout
    assert "(4 row(s), import 1), nothing changed" in again.stdout
    assert len(all_orders(shop)) == 3


def test_cli_bad_row_exits_2_naming_row_and_field(
    shop: Stockflow, db_url: str, tmp_path: Path
) -> None:
    before = table_counts(shop)
    path = sheet(tmp_path, "csv", W1, ["WEB", "W-2", None, HOME, None, None, "A", "lots", None])
    result = CliRunner().invoke(app, ["orders", "import", str(path), "--db", db_url])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "orders.csv: row 3, field 'qty': must be a whole number" in message
    assert "nothing was imported" in message
    assert table_counts(shop) == before
