"""At volume: at least 100,000 rows of every kind go in through the command line, once.

A catalogue of 120,000 SKUs, 100,000 locations and 100,000 bins, then
120,000 rows of opening stock (more SKUs than a statement may carry bind
parameters, and more positions than PostgreSQL has room for locks per
transaction); then 100,000 order lines and 100,000 purchase-order lines. The
files are made in the test's own folder. Each test runs once per database;
how fast the imports are is measured by hand and by ``stockflow bench``, not
here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from stockflow.adapters.tables import metadata, outbox, positions, stock_moves
from stockflow.bootstrap import Stockflow
from stockflow.cli.app import app
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewSupplier

pytestmark = pytest.mark.slow

SKUS = 120_000
ROWS = 100_000


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
    return path


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db_url])


def counts(sf: Stockflow) -> dict[str, int]:
    with sf.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def test_a_catalogue_and_its_opening_stock_go_in_whole_and_once(
    db_url: str, tmp_path: Path
) -> None:
    skus = write_csv(
        tmp_path / "skus.csv", ["code", "name", "unit_price"],
        ([f"S{n:06d}", f"Item {n}", f"{n % 97}.25"] for n in range(SKUS)),
    )  # fmt: skip
    places = write_csv(
        tmp_path / "locations.csv", ["code", "name", "kind"],
        [*([f"WH{n}", f"Warehouse {n}", "warehouse"] for n in range(10)),
         *([f"C{n:06d}", f"Customer {n}", "customer"] for n in range(ROWS - 10))],
    )  # fmt: skip
    shelves = write_csv(
        tmp_path / "bins.csv", ["location", "code", "zone", "sequence"],
        ([f"WH{n % 10}", f"B{n:06d}", "A", n % 1000] for n in range(ROWS)),
    )  # fmt: skip
    stock = [[f"S{n:06d}", f"WH{n % 10}", n % 50 + 1] for n in range(SKUS)]
    opening = write_csv(tmp_path / "stock.csv", ["sku", "location", "qty"], stock)
    spoilt = write_csv(
        tmp_path / "spoilt.csv", ["sku", "location", "qty"], [*stock, ["S000001", "WH1", "x"]]
    )
    for kind, path, rows in (
        ("skus", skus, SKUS),
        ("locations", places, ROWS),
        ("bins", shelves, ROWS),
    ):
        done = cli(db_url, "import", kind, str(path))
        assert done.exit_code == 0, done.output
        assert f"{kind}: imported {rows:,} row(s)" in done.stdout

    sf = Stockflow.open(db_url, migrate_schema=False)
    try:
        before = counts(sf)
        refused = cli(db_url, "import", "stock", str(spoilt))
        assert refused.exit_code == 2, refused.output
        assert f"row {SKUS + 2}, field 'qty'" in refused.stderr
        assert counts(sf) == before

        done = cli(db_url, "import", "stock", str(opening))
        assert done.exit_code == 0, done.output
        assert f"stock: imported {SKUS:,} row(s)" in done.stdout
        after = counts(sf)
        again = cli(db_url, "import", "stock", str(opening))
        assert again.exit_code == 0, again.output
        assert "stock: stock.csv was already imported on " in again.stdout
        assert counts(sf) == after

        with sf.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(positions)).scalar_one() == SKUS
            units = conn.execute(select(func.sum(positions.c.on_hand))).scalar_one()
            assert units == sum(int(r[2]) for r in stock)
            assert conn.execute(select(func.count()).select_from(stock_moves)).scalar_one() == SKUS
            told = select(func.count()).where(outbox.c.topic == "stock.changed")
            assert conn.execute(told).scalar_one() == SKUS
        assert sf.verify() == []
    finally:
        sf.close()


def test_order_lines_and_purchase_order_lines_go_in_whole_and_once(
    db_url: str, tmp_path: Path
) -> None:
    skus = 2_000
    catalogue = write_csv(
        tmp_path / "skus.csv", ["code", "name"], ([f"S{n:05d}", "x"] for n in range(skus))
    )
    opening = write_csv(
        tmp_path / "stock.csv", ["sku", "location", "qty"],
        ([f"S{n:05d}", "WH1", 1_000] for n in range(skus)),
    )  # fmt: skip
    order_lines = write_csv(
        tmp_path / "orders.csv", ["channel", "external_id", "ship_to", "sku", "qty"],
        (["WEB", f"W{n // 4:06d}", "1 Dam Square, Amsterdam", f"S{(n * 7 + n // 4) % skus:05d}", 1]
         for n in range(ROWS)),
    )  # fmt: skip
    po_lines = write_csv(
        tmp_path / "pos.csv", ["supplier", "location", "sku", "qty", "unit_cost", "reference"],
        (["ACME", "WH1", f"S{n % skus:05d}", 10, "1.25", f"R{n // 100:04d}"]
         for n in range(ROWS)),
    )  # fmt: skip
    sf = Stockflow.open(db_url, migrate_schema=False)
    try:
        assert cli(db_url, "import", "locations", str(_one_warehouse(tmp_path))).exit_code == 0
        assert cli(db_url, "import", "skus", str(catalogue)).exit_code == 0
        assert cli(db_url, "import", "stock", str(opening)).exit_code == 0
        sf.orders.add_channel(NewChannel("WEB", "Web shop"))
        sf.receiving.add_supplier(NewSupplier("ACME", "Acme"))

        done = cli(db_url, "orders", "import", str(order_lines))
        assert done.exit_code == 0, done.output
        assert f"{ROWS // 4:,} order(s) from {ROWS:,} row(s)" in done.stdout
        assert f"{ROWS // 4:,} new ({ROWS // 4:,} allocated)" in done.stdout
        placed = cli(db_url, "receiving", "po-import", str(po_lines))
        assert placed.exit_code == 0, placed.output
        assert f"{ROWS // 100:,} order(s) from {ROWS:,} row(s)" in placed.stdout

        after = counts(sf)
        for args in (("orders", "import", str(order_lines)),
                     ("receiving", "po-import", str(po_lines))):  # fmt: skip
            again = cli(db_url, *args)
            assert again.exit_code == 0, again.output
            assert "was already imported on " in again.stdout
        assert counts(sf) == after
        assert after["order_lines"] == ROWS
        assert after["incoming_supply"] == ROWS
        assert sum(p.allocated for p in sf.positions()) == ROWS
        assert sf.verify() == []
    finally:
        sf.close()


def _one_warehouse(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "locations.csv", ["code", "name"], [["WH1", "Warehouse 1"]])
