"""``stockflow receiving`` on real files and real databases: PO sheets, receipts, putaway."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import setup_places, write_sheet
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.receiving.rules.purchasing import NewSupplier
from stockflow.stock.rules.catalogue import NewSku

PO_HEADER = ["supplier", "location", "sku", "qty", "unit_cost", "reference"]


@pytest.fixture
def shop(sf: Stockflow) -> Stockflow:
    """WH1 with bins A-01, A-02; SKUs A and B; suppliers ACME and BETA."""
    setup_places(sf)
    sf.add_skus([NewSku("A", "Bolt"), NewSku("B", "Nut")])
    sf.receiving.add_supplier(NewSupplier("ACME", "Acme", 5))
    sf.receiving.add_supplier(NewSupplier("BETA", "Beta", 2))
    return sf


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["receiving", *args, "--db", db_url])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_po_sheet_places_one_order_per_supplier_once(
    shop: Stockflow, db_url: str, tmp_path: Path, suffix: str
) -> None:
    path = write_sheet(
        tmp_path / f"pos.{suffix}",
        [
            PO_HEADER,
            ["ACME", "WH1", "A", 10, "0.25", "Q-1"],
            ["BETA", "WH1", "B", 5, "1.10", None],
            ["ACME", "WH1", "B", 20, "0.05", "Q-1"],
        ],
    )
    code, out, err = run(db_url, "po-import", str(path))
    assert code == 0, err
    placed = shop.receiving.purchase_orders()
    assert sorted((p.supplier, tuple((ln.sku, ln.qty) for ln in p.lines)) for p in placed) == [
        ("ACME", (("A", 10), ("B", 20))),
        ("BETA", (("B", 5),)),
    ]
    acme = next(p for p in placed if p.supplier == "ACME")
    assert (acme.reference, acme.total_cost) == ("Q-1", Decimal("3.5"))
    assert f"{acme.id}: ACME -> WH1, 2 line(s)" in out
    code, out, _ = run(db_url, "po-import", str(path))
    assert code == 0
    assert f"purchase_orders: pos.{suffix} was already imported on " in out
    assert "(3 row(s), import 1), nothing changed" in out
    assert len(shop.receiving.purchase_orders()) == 2


def test_a_bad_po_row_is_named_and_nothing_is_placed(
    shop: Stockflow, db_url: str, tmp_path: Path
) -> None:
    path = write_sheet(
        tmp_path / "pos.csv",
        [PO_HEADER, ["ACME", "WH1", "A", 10, "0.25", None], ["ACME", "WH1", "GHOST", 1, "1", None]],
    )
    code, _, err = run(db_url, "po-import", str(path))
    assert code == 2
    assert "pos.csv: row 3, field 'sku': no SKU with code 'GHOST'" in err
    assert "nothing was imported" in err
    assert list(shop.receiving.purchase_orders()) == []


def test_receiving_a_sheet_then_putting_it_away(
    shop: Stockflow, db_url: str, tmp_path: Path
) -> None:
    path = write_sheet(tmp_path / "pos.csv", [PO_HEADER, ["ACME", "WH1", "A", 10, "0.25", "Q"]])
    assert run(db_url, "po-import", str(path))[0] == 0
    po = shop.receiving.purchase_orders()[0]
    truck = write_sheet(
        tmp_path / "truck.csv",
        [["sku", "received_qty", "damaged_qty"], ["A", 9, 1]],
    )
    code, out, err = run(db_url, "receive", str(truck), "--po", po.id)
    assert code == 0, err
    assert "9 unit(s) on 1 line(s) at WH1" in out
    assert out.count("discrepancy:") == 2  # one short, one damaged
    code, out, _ = run(db_url, "receive", str(truck), "--po", po.id)
    assert (code, "(received before)" in out) == (0, True)
    assert shop.receiving.purchase_order(po.id).lines[0].received == 9

    bad = write_sheet(tmp_path / "bad.csv", [["sku", "received_qty"], ["A", 2], ["A", "x"]])
    code, _, err = run(db_url, "receive", str(bad), "--po", po.id)
    assert code == 2
    assert "row 3, field 'received_qty': must be a whole number" in err

    code, out, _ = run(db_url, "putaway-suggest", "--location", "WH1", "--sku", "A", "--qty", "8")
    assert (code, out.split(":")[0]) == (0, "MAIN")
    code, out, err = run(
        db_url, "putaway", "--location", "WH1", "--sku", "A", "--qty", "8", "--to-bin", "A-02"
    )
    assert code == 0, err
    assert "8 x A DOCK -> A-02 (scanned A-02; suggested MAIN" in out
    assert run(db_url, "po-close", po.id)[1].strip() == f"{po.id}: closed"
    assert run(db_url, "po-cancel", po.id)[0] == 2
    assert shop.verify() == []
