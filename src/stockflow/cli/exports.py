"""``stockflow export``: every row of a list as CSV or NDJSON, to a file or standard output.

The same export the API serves (``GET /exports/{what}``), streamed from the
database in chunks, so memory stays flat however big the table. From the
shell it reads as an administrator does, or, with ``--user``, as that user
sees it (its role's permission, its scope, its prices).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from rich.console import Console

from stockflow.cli.options import DbOption, opened

if TYPE_CHECKING:
    from collections.abc import Iterator

err = Console(stderr=True)


def export(
    what: Annotated[
        str, typer.Argument(help="What to export: skus, locations, positions, atp, orders, moves")
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv or ndjson")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here (default: stdout)"),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Export what this user may see (role and scope)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export every row of a list, as CSV or NDJSON (a file or standard output)."""
    import getpass

    from stockflow.stock.rules.access import Principal, Role

    with opened(db) as sf:
        who = sf.access.principal(user) if user else Principal(getpass.getuser(), Role.ADMIN)
        _, body = sf.export(what, who, fmt=fmt)
        started = time.monotonic()
        if output is None:
            _write(body, sys.stdout.buffer)
            return
        with output.open("wb") as out:
            written = _write(body, out, progress=True)
    took = time.monotonic() - started
    err.print(f"{what}: {written:,} bytes written to {output} in {took:.1f}s", highlight=False)


def _write(body: Iterator[bytes], out: BinaryIO, *, progress: bool = False) -> int:
    """Copy the export's bytes to ``out`` as they come (with a progress line); how many."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TransferSpeedColumn

    written = 0
    columns = (SpinnerColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err, transient=True, disable=not progress) as bar:
        task = bar.add_task("export", total=None)
        for part in body:
            out.write(part)
            written += len(part)
            bar.update(task, completed=written)
    out.flush()
    return written
