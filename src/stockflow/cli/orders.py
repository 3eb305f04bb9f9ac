"""``stockflow orders``: order sheets in, all or nothing."""

from __future__ import annotations

import typer
from rich.console import Console

from stockflow.cli.imports import FileArgument, progress_bar
from stockflow.cli.options import DbOption, database_url

orders_app = typer.Typer(no_args_is_help=True, help="Orders: import order sheets")
console = Console()
err = Console(stderr=True)


@orders_app.command("import")
def import_orders(file: FileArgument, db: DbOption = None) -> None:
    """Capture the orders of a sheet, one row per order line, every order or none.

    Columns: channel, external_id, ship_to, sku, qty [, customer, ship_to_latitude,
    ship_to_longitude, unit_price]. Rows with the same channel and external_id are
    one order. Importing a file again captures nothing twice.
    """
    from stockflow.bootstrap import Stockflow
    from stockflow.domain.errors import StockflowError
    from stockflow.services.order_import import import_orders as run_import

    sf = Stockflow.open(database_url(db))
    try:
        with progress_bar(file.name) as progress:
            summary = run_import(sf, file, progress=progress)
    except StockflowError as exc:
        err.print(
            f"[red]error:[/red] {file.name}: {exc}; nothing was imported",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    finally:
        sf.close()
    statuses = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(summary.by_status.items()))
    console.print(
        f"orders: {summary.orders:,} order(s) from {summary.rows:,} row(s) of {summary.file} "
        f"in {summary.seconds:.1f}s: {summary.created:,} new"
        + (f" ({statuses})" if statuses else "")
        + f", {summary.replayed:,} captured before",
        highlight=False,
        soft_wrap=True,
    )
