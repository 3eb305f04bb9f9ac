"""``stockflow import``: load SKUs, locations, bins or opening stock from CSV or XLSX."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar

import typer
from rich.console import Console

from stockflow.cli.acting import audited
from stockflow.cli.options import DbOption, database_url

if TYPE_CHECKING:
    from stockflow.bootstrap import Stockflow
    from stockflow.stock.imports import ImportSummary, ProgressCallback

import_app = typer.Typer(no_args_is_help=True, help="Bulk import from CSV or XLSX (all or nothing)")
console = Console()
err = Console(stderr=True)

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="A .csv (UTF-8) or .xlsx file; the first row names the columns",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


S_co = TypeVar("S_co", covariant=True)


class Importer(Protocol[S_co]):
    """A service that imports one file, reporting progress; its summary."""

    def __call__(
        self, sf: Stockflow, path: Path, *, progress: ProgressCallback | None = None
    ) -> S_co: ...


@import_app.command()
@audited
def skus(file: FileArgument, db: DbOption = None) -> None:
    """SKUs: code, name [, base_unit, active, lot_tracked, unit_price]."""
    from stockflow.stock.imports import import_skus

    _run(import_skus, file, db)


@import_app.command()
@audited
def locations(file: FileArgument, db: DbOption = None) -> None:
    """Locations: code [, name, kind, address, latitude, longitude, allow_negative]."""
    from stockflow.stock.imports import import_locations

    _run(import_locations, file, db)


@import_app.command()
@audited
def bins(file: FileArgument, db: DbOption = None) -> None:
    """Bins in existing locations: location, code [, zone, sequence]."""
    from stockflow.stock.imports import import_bins

    _run(import_bins, file, db)


@import_app.command()
@audited
def stock(file: FileArgument, db: DbOption = None) -> None:
    """Opening stock as receipts: sku, location, qty [, bin, lot, expires_on]."""
    from stockflow.stock.imports import import_stock

    _run(import_stock, file, db)


def run_file_import(importer: Importer[S_co], file: Path, db: str | None) -> S_co:
    """Import one file with a progress bar; a bad row prints one line (row, field) and exits 2."""
    from stockflow.bootstrap import Stockflow
    from stockflow.errors import StockflowError

    sf = Stockflow.open(database_url(db))
    try:
        with progress_bar(file.name) as progress:
            return importer(sf, file, progress=progress)
    except StockflowError as exc:
        err.print(
            f"[red]error:[/red] {file.name}: {exc}; nothing was imported",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    finally:
        sf.close()


def _run(importer: Importer[ImportSummary], file: Path, db: str | None) -> None:
    summary = run_file_import(importer, file, db)
    console.print(
        f"{summary.kind}: imported {summary.rows:,} row(s) from {summary.file} "
        f"in {summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s)",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def progress_bar(name: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr; yields the callback that moves it (rows done, rows)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(f"importing {name}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
