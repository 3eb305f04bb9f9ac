"""``stockflow import``: load SKUs, locations, bins or opening stock from CSV or XLSX.

Every import is one unit: all of the file or nothing, once (the same file
again changes nothing), recorded with the file's SHA-256 (``import
history``). ``--dry-run`` checks a file and lists every problem without
writing anything. A file with problems exits 2 and lists them (the first
hundred, and how many more), one per line: row, column, what is wrong.
"""

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
    from stockflow.errors import StockflowError
    from stockflow.stock.import_runs import ImportSummary, ProgressCallback

import_app = typer.Typer(
    no_args_is_help=True, help="Bulk import from CSV or XLSX (all or nothing, once per file)"
)
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
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Check the file and list every problem; write nothing"),
]


S_co = TypeVar("S_co", covariant=True)


class Importer(Protocol[S_co]):
    """A service that imports one file, reporting progress; its summary."""

    def __call__(
        self,
        sf: Stockflow,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        dry_run: bool = False,
    ) -> S_co: ...


@import_app.command()
@audited
def skus(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """SKUs: code, name [, base_unit, active, lot_tracked, unit_price]."""
    from stockflow.stock.imports import import_skus

    _run(import_skus, file, db, dry_run)


@import_app.command()
@audited
def locations(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """Locations: code [, name, kind, address, latitude, longitude, allow_negative]."""
    from stockflow.stock.imports import import_locations

    _run(import_locations, file, db, dry_run)


@import_app.command()
@audited
def bins(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """Bins in existing locations: location, code [, zone, sequence, role, capacity]."""
    from stockflow.stock.imports import import_bins

    _run(import_bins, file, db, dry_run)


@import_app.command()
@audited
def stock(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """Opening stock as receipts: sku, location, qty [, bin, lot, expires_on]."""
    from stockflow.stock.imports import import_stock

    _run(import_stock, file, db, dry_run)


@import_app.command()
def history(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only these: skus, stock, orders...")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first")] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Where to go on: the cursor a page printed")
    ] = None,
    db: DbOption = None,
) -> None:
    """The files imported so far, newest first: when, by whom, what they wrote."""
    from rich.table import Table

    from stockflow.bootstrap import Stockflow
    from stockflow.stock.import_runs import import_run_page

    sf = Stockflow.open(database_url(db))
    try:
        runs = sf.db.snapshot(
            lambda conn: import_run_page(conn, kind=kind, after=cursor, limit=limit)
        )
    finally:
        sf.close()
    table = Table("id", "kind", "file", "rows", "by", "finished (UTC)", "sha256")
    for run in runs:
        table.add_row(
            str(run.id), run.kind, run.file, f"{run.rows:,}", run.actor,
            f"{run.finished_at:%Y-%m-%d %H:%M:%S}", run.sha256[:12],
        )  # fmt: skip
    console.print(table)
    if runs.next is not None:
        console.print(f"older: --cursor {runs.next}", highlight=False)


def run_file_import(
    importer: Importer[S_co], file: Path, db: str | None, *, dry_run: bool = False
) -> S_co:
    """Import one file with a progress bar; a file with problems lists them and exits 2."""
    from stockflow.bootstrap import Stockflow
    from stockflow.errors import StockflowError

    sf = Stockflow.open(database_url(db))
    try:
        with progress_bar(file.name) as progress:
            return importer(sf, file, progress=progress, dry_run=dry_run)
    except StockflowError as exc:
        report_problems(file.name, exc, dry_run=dry_run)
        raise typer.Exit(2) from None
    finally:
        sf.close()


def report_problems(name: str, exc: StockflowError, *, dry_run: bool) -> None:
    """One line for a file with one problem; else a count, then one line per problem."""
    outcome = "nothing was written (dry run)" if dry_run else "nothing was imported"
    if exc.problem_count == 1:
        err.print(f"[red]error:[/red] {name}: {exc}; {outcome}", highlight=False, soft_wrap=True)
        return
    err.print(
        f"[red]error:[/red] {name}: {exc.problem_count:,} problems; {outcome}",
        highlight=False,
        soft_wrap=True,
    )
    for problem in exc.problems:
        err.print(f"  {problem}", highlight=False, soft_wrap=True, markup=False)
    if exc.more:
        err.print(f"  ... and {exc.more:,} more", highlight=False)


def report_outcome(summary: ImportSummary) -> bool:
    """Say what a run that wrote nothing was (done before, or a dry run); True if it was.

    A follow-up that failed after an import committed is a warning: the
    import itself stands.
    """
    if summary.followup_failed:
        err.print(
            f"[yellow]warning:[/yellow] {summary.file} was imported, but {summary.followup_failed}"
            "; `stockflow orders fill-backorders` runs it again",
            highlight=False,
            soft_wrap=True,
        )
    if summary.earlier is not None:
        run = summary.earlier
        console.print(
            f"{summary.kind}: {summary.file} was already imported on "
            f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC by {run.actor} ({run.rows:,} row(s), "
            f"import {run.id}), nothing changed",
            highlight=False,
            soft_wrap=True,
        )
        return True
    if summary.dry_run:
        console.print(
            f"{summary.kind}: {summary.file} checked: {summary.rows:,} row(s), no problems "
            f"({summary.rows_per_second:,.0f} rows/s); nothing was written (dry run)",
            highlight=False,
            soft_wrap=True,
        )
        return True
    return False


def _run(importer: Importer[ImportSummary], file: Path, db: str | None, dry_run: bool) -> None:
    summary = run_file_import(importer, file, db, dry_run=dry_run)
    if report_outcome(summary):
        return
    console.print(
        f"{summary.kind}: imported {summary.rows:,} row(s) from {summary.file} "
        f"in {summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s)",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def progress_bar(name: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr with rows/s and time left; yields (rows done, rows)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        """Rows a second, as Rich works it out from the recent progress."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(
                f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed"
            )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, RowsPerSecond(), TimeRemainingColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task(f"importing {name}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
