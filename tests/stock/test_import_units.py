"""Every import is one unit: all or nothing, once per file, every problem named, a dry run first.

Each kind of import (SKUs, locations, bins, opening stock, orders, purchase
orders) is held to the same promises: a file whose last row is bad writes
nothing; the same file again changes nothing and says when and by whom it
went in; a dry run reports every problem by row and column and writes
nothing; the record of past imports pages newest first; a reaction that
fails after an import committed is reported beside the import, never as a
failed import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from helpers import write_sheet
from stockflow.adapters.reactions import Reactions
from stockflow.adapters.tables import import_runs, metadata
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.errors import InvalidInput, StockflowError, UnknownLocation, UnknownSku
from stockflow.orders.order_import import import_orders
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.purchase_sheets import import_purchase_orders
from stockflow.receiving.rules.purchasing import NewSupplier
from stockflow.stock.import_runs import import_run_page
from stockflow.stock.imports import import_bins, import_locations, import_skus, import_stock
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.events import StockFreed

Importer = Callable[..., Any]
HOME = "1 Dam Square, Amsterdam"


def table_counts(sf: Stockflow) -> dict[str, int]:
    """Rows per table: equal before and after means nothing was written."""
    with sf.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


@pytest.fixture
def shop(sf: Stockflow) -> Stockflow:
    """WH1 (a warehouse), SKUs A and B, channel WEB, supplier ACME."""
    sf.add_locations([NewLocation("WH1", "Warehouse 1")])
    sf.add_skus([NewSku("A", "Item A"), NewSku("B", "Item B")])
    sf.orders.add_channel(NewChannel("WEB", "Web shop"))
    sf.receiving.add_supplier(NewSupplier("ACME", "Acme"))
    return sf


# Each kind: its importer, a good file's rows, and the same file with a bad last row.
KINDS: dict[str, tuple[Importer, list[list[object]], list[object]]] = {
    "skus": (
        import_skus,
        [["code", "name"], ["C", "Item C"], ["D", "Item D"]],
        ["E", None],
    ),
    "locations": (
        import_locations,
        [["code", "kind"], ["S1", "store"], ["S2", "store"]],
        ["S3", "castle"],
    ),
    "bins": (
        import_bins,
        [["location", "code"], ["WH1", "X-01"], ["WH1", "X-02"]],
        ["NOWHERE", "X-03"],
    ),
    "stock": (
        import_stock,
        [["sku", "location", "qty"], ["A", "WH1", 5], ["B", "WH1", 7]],
        ["A", "WH1", "lots"],
    ),
    "orders": (
        import_orders,
        [
            ["channel", "external_id", "ship_to", "sku", "qty"],
            ["WEB", "W-1", HOME, "A", 1],
            ["WEB", "W-2", HOME, "B", 2],
        ],
        ["WEB", "W-3", HOME, "NOPE", 1],
    ),
    "purchase_orders": (
        import_purchase_orders,
        [
            ["supplier", "location", "sku", "qty", "unit_cost"],
            ["ACME", "WH1", "A", 10, "1.5"],
            ["ACME", "WH1", "B", 10, "2.5"],
        ],
        ["ACME", "WH1", "A", 0, "1.5"],
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_file_whose_last_row_is_bad_writes_nothing(
    shop: Stockflow, tmp_path: Path, kind: str
) -> None:
    importer, rows, bad = KINDS[kind]
    before = table_counts(shop)
    path = write_sheet(tmp_path / f"{kind}.csv", [*rows, bad])
    with pytest.raises(StockflowError) as caught:
        importer(shop, path)
    assert caught.value.row == len(rows) + 1, str(caught.value)
    assert caught.value.problem_count == 1
    assert table_counts(shop) == before
    assert shop.verify() == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_same_file_again_changes_nothing_and_says_when_it_went_in(
    shop: Stockflow, tmp_path: Path, kind: str
) -> None:
    importer, rows, _ = KINDS[kind]
    path = write_sheet(tmp_path / f"{kind}.csv", rows)
    first = importer(shop, path)
    assert first.earlier is None
    assert first.rows == 2
    after = table_counts(shop)
    again = importer(shop, path)
    assert again.earlier is not None
    assert (again.earlier.kind, again.earlier.file, again.earlier.rows) == (kind, path.name, 2)
    assert again.earlier.actor == "import"  # a library call names nobody
    assert table_counts(shop) == after
    assert shop.verify() == []
    # The same rows in a file with other bytes are a new file: checked like any other.
    other = write_sheet(tmp_path / f"{kind}-copy.csv", [*rows, []])
    if kind == "orders":
        assert importer(shop, other).replayed == 2  # channel + external id replay them
        assert {t: n for t, n in table_counts(shop).items() if t != "import_runs"} == {
            t: n for t, n in after.items() if t != "import_runs"
        }
    elif kind in ("stock", "purchase_orders"):
        assert importer(shop, other).earlier is None  # another file asks for more: it gets it
        assert shop.verify() == []
    else:
        with pytest.raises(StockflowError):
            importer(shop, other)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_dry_run_checks_and_writes_nothing(shop: Stockflow, tmp_path: Path, kind: str) -> None:
    importer, rows, _ = KINDS[kind]
    before = table_counts(shop)
    path = write_sheet(tmp_path / f"{kind}.csv", rows)
    checked = importer(shop, path, dry_run=True)
    assert (checked.dry_run, checked.rows, checked.earlier) == (True, 2, None)
    assert table_counts(shop) == before
    assert importer(shop, path).earlier is None  # a dry run does not count as the import


def test_a_dry_run_names_every_problem_by_row_and_column(shop: Stockflow, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["sku", "location", "qty", "bin"],
        ["A", "WH1", 1, None],  # fine
        ["NOPE", "MARS", "x", None],  # three problems: SKU, location, qty
        ["B", "WH1", 0, "Z-9"],  # qty, bin
        ["A", None, 2, None],  # location missing
    ]
    path = write_sheet(tmp_path / "stock.csv", rows)
    before = table_counts(shop)
    with pytest.raises(UnknownSku) as caught:
        import_stock(shop, path, dry_run=True)
    found = [(p.row, p.field, type(p).__name__) for p in caught.value.problems]
    assert found == [
        (3, "sku", "UnknownSku"),
        (3, "location", "UnknownLocation"),
        (3, "qty", "InvalidInput"),
        (4, "qty", "InvalidInput"),
        (4, "bin", "UnknownBin"),
        (5, "location", "InvalidInput"),
    ]
    assert caught.value.problem_count == 6
    assert table_counts(shop) == before
    # The same problems without --dry-run: nothing is written either.
    with pytest.raises(UnknownSku) as again:
        import_stock(shop, path)
    assert [(p.row, p.field) for p in again.value.problems] == [(r, f) for r, f, _ in found]
    assert table_counts(shop) == before


def test_problems_past_the_first_hundred_are_counted(shop: Stockflow, tmp_path: Path) -> None:
    rows: list[list[object]] = [["sku", "location", "qty"]]
    rows += [[f"X{n}", "WH1", 1] for n in range(150)]  # unknown SKUs, found in the database
    rows += [["A", "WH1", -1] for _ in range(100)]  # bad quantities, found reading the file
    path = write_sheet(tmp_path / "stock.csv", rows)
    with pytest.raises(UnknownSku) as caught:
        import_stock(shop, path, dry_run=True)
    assert caught.value.problem_count == 250
    assert len(caught.value.problems) == 100
    assert caught.value.more == 150
    assert [p.row for p in caught.value.problems] == list(range(2, 102))


def test_orders_the_stock_rules_refuse_are_all_named(shop: Stockflow, tmp_path: Path) -> None:
    shop.orders.add_channel(NewChannel("B2B", "Trade", backorder_policy="reject"))
    rows: list[list[object]] = [
        ["channel", "external_id", "ship_to", "sku", "qty"],
        ["B2B", "T-1", HOME, "A", 1],
        ["B2B", "T-2", HOME, "B", 3],
        ["POST", "P-1", HOME, "A", 1],
    ]
    path = write_sheet(tmp_path / "orders.csv", rows)
    before = table_counts(shop)
    with pytest.raises(StockflowError) as caught:
        import_orders(shop, path, dry_run=True)
    assert [(p.row, p.field, p.title) for p in caught.value.problems] == [
        (2, "qty", "Insufficient stock"),
        (3, "qty", "Insufficient stock"),
        (4, "channel", "Unknown channel"),
    ]
    assert table_counts(shop) == before


def test_past_imports_page_newest_first(shop: Stockflow, tmp_path: Path) -> None:
    for n in range(5):
        import_skus(
            shop, write_sheet(tmp_path / f"skus{n}.csv", [["code", "name"], [f"S{n}", "x"]])
        )
    with shop.db.read() as conn:
        first = import_run_page(conn, limit=2)
        second = import_run_page(conn, after=first.next, limit=2)
        third = import_run_page(conn, after=second.next, limit=2)
        stock_only = import_run_page(conn, kind="stock")
    assert [r.file for r in [*first, *second, *third]] == [f"skus{n}.csv" for n in (4, 3, 2, 1, 0)]
    assert third.next is None
    assert list(stock_only) == []
    assert first[0].summary == {"rows": 1}
    assert len(first[0].sha256) == 64


def test_a_reaction_that_keeps_failing_is_reported_beside_the_import(
    shop: Stockflow, tmp_path: Path
) -> None:
    tries: list[int] = []

    def broken(events: Sequence[object]) -> None:
        tries.append(len(events))
        raise RuntimeError("the fill is down")

    shop.db.on_commit(Reactions({StockFreed: [broken]}))
    path = write_sheet(tmp_path / "stock.csv", [["sku", "location", "qty"], ["A", "WH1", 4]])
    done = import_stock(shop, path)
    assert done.followup_failed is not None
    assert "broken after StockFreed" in done.followup_failed
    assert len(tries) == 3  # tried again before giving up
    assert [p.on_hand for p in shop.positions(sku="A")] == [4]
    assert import_stock(shop, path).earlier is not None


def test_cli_dry_run_lists_every_problem_and_history_lists_imports(
    shop: Stockflow, db_url: str, tmp_path: Path
) -> None:
    bad = write_sheet(
        tmp_path / "stock.csv",
        [["sku", "location", "qty"], ["NOPE", "WH1", 1], ["A", "WH1", "x"], ["A", "MARS", 1]],
    )
    result = CliRunner().invoke(app, ["import", "stock", str(bad), "--dry-run", "--db", db_url])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: stock.csv: 3 problems; nothing was written (dry run)"
    assert lines[1:] == [
        "  row 2, field 'sku': no SKU with code 'NOPE'",
        "  row 3, field 'qty': must be a whole number, got 'x'",
        "  row 4, field 'location': no location with code 'MARS'",
    ]
    good = write_sheet(tmp_path / "good.csv", [["sku", "location", "qty"], ["A", "WH1", 3]])
    checked = CliRunner().invoke(app, ["import", "stock", str(good), "--dry-run", "--db", db_url])
    assert checked.exit_code == 0, checked.output
    assert "stock: good.csv checked: 1 row(s), no problems" in checked.stdout
    assert "nothing was written (dry run)" in checked.stdout
    assert shop.positions() == []
    done = CliRunner().invoke(app, ["import", "stock", str(good), "--db", db_url])
    assert done.exit_code == 0, done.output
    again = CliRunner().invoke(app, ["import", "stock", str(good), "--db", db_url])
    assert again.exit_code == 0, again.output
    assert "stock: good.csv was already imported on " in again.stdout
    assert "nothing changed" in again.stdout
    assert [p.on_hand for p in shop.positions()] == [3]
    listed = CliRunner().invoke(app, ["import", "history", "--db", db_url])
    assert listed.exit_code == 0, listed.output
    assert "good.csv" in listed.stdout
    assert "stock" in listed.stdout


@pytest.mark.postgres_only
def test_two_runs_of_one_file_at_once_import_it_once(pg_only_url: str, tmp_path: Path) -> None:
    sf = Stockflow.open(pg_only_url, migrate_schema=False)
    try:
        sf.add_locations([NewLocation("WH1", "Warehouse 1")])
        sf.add_skus([NewSku(f"S{n}", "x") for n in range(500)])
        path = write_sheet(
            tmp_path / "stock.csv",
            [["sku", "location", "qty"], *([f"S{n}", "WH1", 1] for n in range(500))],
        )
        outcomes: list[object] = []
        start = threading.Barrier(2)

        def run() -> None:
            start.wait()
            outcomes.append(import_stock(sf, path).earlier)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(o is None for o in outcomes) == [False, True]
        assert sum(p.on_hand for p in sf.positions()) == 500
        with sf.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(import_runs)).scalar_one() == 1
        assert sf.verify() == []
    finally:
        sf.close()


def test_a_header_with_several_problems_names_them_all(shop: Stockflow, tmp_path: Path) -> None:
    path = write_sheet(
        tmp_path / "stock.csv", [["sku", "colour", "qty", "QTY"], ["A", "red", 1, 1]]
    )
    with pytest.raises(InvalidInput) as caught:
        import_stock(shop, path, dry_run=True)
    assert [(p.field, p.row) for p in caught.value.problems] == [
        ("colour", 1),
        ("qty", 1),
        ("location", 1),
    ]


def test_bins_name_an_unknown_location_on_every_row(shop: Stockflow, tmp_path: Path) -> None:
    path = write_sheet(
        tmp_path / "bins.csv",
        [["location", "code"], ["XX", "B-1"], ["WH1", "B-2"], ["YY", "B-3"], ["WH1", "B-2"]],
    )
    with pytest.raises(UnknownLocation) as caught:
        import_bins(shop, path)
    assert [(p.row, p.field) for p in caught.value.problems] == [
        (2, "location"),
        (4, "location"),
        (5, "code"),
    ]


def test_the_api_pages_past_imports_for_those_who_read_the_audit_trail(
    shop: Stockflow, tmp_path: Path
) -> None:
    from helpers import api_client
    from stockflow.api.app import create_app
    from stockflow.stock.rules.access import Role

    for n in range(3):
        import_skus(
            shop, write_sheet(tmp_path / f"skus{n}.csv", [["code", "name"], [f"S{n}", "x"]])
        )
    app = create_app(shop)
    with api_client(app) as admin:
        first = admin.get("/api/v1/imports", params={"limit": 2})
        assert first.status_code == 200, first.text
        page = first.json()
        assert [r["file"] for r in page["items"]] == ["skus2.csv", "skus1.csv"]
        assert page["items"][0]["kind"] == "skus"
        assert page["items"][0]["rows"] == 1
        rest = admin.get("/api/v1/imports", params={"limit": 2, "cursor": page["next"]}).json()
        assert ([r["file"] for r in rest["items"]], rest["next"]) == (["skus0.csv"], None)
        assert admin.get("/api/v1/imports", params={"kind": "stock"}).json()["items"] == []
        bad = admin.get("/api/v1/imports", params={"cursor": "bm9wZQ"})
        assert bad.status_code == 422
    with api_client(app, "wes", Role.WAREHOUSE) as warehouse:
        assert warehouse.get("/api/v1/imports").status_code == 403
