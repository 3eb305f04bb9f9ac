"""``stockflow floor``: waves and their pick lists, and the documents a packing bench prints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.cli.acting import audited
from stockflow.cli.options import DbOption, database_url

if TYPE_CHECKING:
    from stockflow.bootstrap import Stockflow

floor_app = typer.Typer(no_args_is_help=True, help="Warehouse floor: waves, pick lists, labels")
console = Console()
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Where to write the PDF")]


@contextmanager
def _opened(db: str | None) -> Iterator[Stockflow]:
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        yield sf
    finally:
        sf.close()


@floor_app.command("wave")
@audited
def wave(
    location: Annotated[str, typer.Argument(help="Location code")],
    db: DbOption = None,
    max_orders: Annotated[int, typer.Option(min=1, help="At most this many orders")] = 20,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the PDF")] = None,
) -> None:
    """Group ready orders at a location into a wave and print its pick list in walking order."""
    from stockflow.floor.picking import WaveRequest

    with _opened(db) as sf:
        made = sf.floor.build_wave(WaveRequest(location, max_orders), actor="cli")
        if made is None:
            console.print(f"no order at {location} is ready for a wave")
            raise typer.Exit(1)
        table = Table(title=f"wave {made.id} at {made.location}")
        for column in ("task", "bin", "sku", "lot", "qty", "order", "tote"):
            table.add_column(column)
        for t in made.tasks:
            table.add_row(str(t.id), t.bin, t.sku, t.lot or "", str(t.qty), t.order_id[:12], t.tote)
        console.print(table)
        if out is not None:
            _write(out, sf.floor.pick_list_pdf, made.id)


@floor_app.command("pick-list")
def pick_list(wave_id: str, out: OutOption, db: DbOption = None) -> None:
    """Write a wave's open tasks as a PDF pick list."""
    with _opened(db) as sf:
        _write(out, sf.floor.pick_list_pdf, wave_id)


@floor_app.command("packing-slip")
def packing_slip(shipment_id: str, out: OutOption, db: DbOption = None) -> None:
    """Write a shipment's packing slip as a PDF."""
    with _opened(db) as sf:
        _write(out, sf.floor.packing_slip_pdf, shipment_id)


@floor_app.command("label")
def label(
    shipment_id: str,
    out: OutOption,
    db: DbOption = None,
    package: Annotated[int, typer.Option(min=1, help="Which package")] = 1,
) -> None:
    """Write one package's shipping label as a PDF."""
    with _opened(db) as sf:
        _write(out, lambda key: sf.floor.label_pdf(key, package), shipment_id)


def _write(out: Path, render: Callable[[str], bytes], key: str) -> None:
    out.write_bytes(render(key))
    console.print(f"wrote {out}")
