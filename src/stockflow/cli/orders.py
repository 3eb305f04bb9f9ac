"""``stockflow orders``: order sheets in, all or nothing."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from stockflow.cli.acting import audited
from stockflow.cli.imports import DryRunOption, FileArgument, report_outcome, run_file_import
from stockflow.cli.options import DbOption, database_url

orders_app = typer.Typer(
    no_args_is_help=True, help="Orders: import order sheets, scan for exceptions, fill backorders"
)
console = Console()


@orders_app.command("import")
@audited
def import_orders(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """Capture the orders of a sheet, one row per order line, every order or none, once.

    Columns: channel, external_id, ship_to, sku, qty [, customer, ship_to_latitude,
    ship_to_longitude, unit_price]. Rows with the same channel and external_id are
    one order. Importing a file again captures nothing twice; --dry-run lists
    every problem (those of stock too) and writes nothing.
    """
    from stockflow.orders.order_import import import_orders as order_sheet

    summary = run_file_import(order_sheet, file, db, dry_run=dry_run)
    if report_outcome(summary):
        return
    by_status = sorted(summary.by_status.items())
    statuses = ", ".join(f"{n:,} {s.replace('_', ' ')}" for s, n in by_status)
    console.print(
        f"orders: {summary.orders:,} order(s) from {summary.rows:,} row(s) of {summary.file} "
        f"in {summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s): "
        f"{summary.created:,} new"
        + (f" ({statuses})" if statuses else "")
        + f", {summary.replayed:,} captured before",
        highlight=False,
        soft_wrap=True,
    )


@orders_app.command("scan")
@audited
def scan(
    db: DbOption = None,
    stuck_hours: Annotated[
        int, typer.Option(min=1, help="An open order with no change for this long is stuck")
    ] = 24,
) -> None:
    """Raise exceptions for backorders past their promise date and stuck orders (run from cron)."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        raised = sf.orders.flag_late_and_stuck(stuck_hours=stuck_hours)
    finally:
        sf.close()
    console.print(f"scan: {raised} new exception(s)")


@orders_app.command("fill-backorders")
@audited
def fill_backorders(db: DbOption = None) -> None:
    """Offer free stock to every waiting order now (highest priority first, then oldest)."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        filled = sf.orders.fill_backorders()
    finally:
        sf.close()
    console.print(f"fill-backorders: {len(filled)} order(s) received stock")
