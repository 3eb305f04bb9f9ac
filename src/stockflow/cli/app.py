"""``stockflow``: serve, migrate, verify, ATP, import, demo data and benchmarks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.cli.acting import audited
from stockflow.cli.bench import bench
from stockflow.cli.counts import counts_app
from stockflow.cli.exports import export
from stockflow.cli.floor import floor_app
from stockflow.cli.imports import import_app
from stockflow.cli.options import DbOption, database_url
from stockflow.cli.orders import orders_app
from stockflow.cli.receiving import receiving_app
from stockflow.cli.relay import relay
from stockflow.cli.returns import returns_app
from stockflow.cli.tokens import tokens_app
from stockflow.cli.transfers import transfers_app
from stockflow.cli.users import users_app
from stockflow.cli.webhooks import webhooks_app
from stockflow.config import Settings

if TYPE_CHECKING:
    from stockflow.stock.checkpoints import Verification

app = typer.Typer(
    no_args_is_help=True, help="Inventory and order management on one live stock position."
)
console = Console()
err = Console(stderr=True)


@app.command()
def migrate(db: DbOption = None) -> None:
    """Create or upgrade the database schema."""
    from stockflow.adapters.database import Database
    from stockflow.adapters.migrate import migrate as run_migrations

    database = Database(database_url(db))
    run_migrations(database)
    database.dispose()
    console.print(f"schema is up to date ({database.dialect})")


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: STOCKFLOW_PORT or 8000)")] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Server processes (each batches its own reservations)"),
    ] = 1,
) -> None:
    """Serve the HTTP API (and dashboard) until interrupted."""
    import os

    import uvicorn

    from stockflow.adapters.database import Database
    from stockflow.adapters.migrate import migrate as run_migrations
    from stockflow.cli.relay import beside, stop_beside

    settings = Settings()
    url = database_url(db)
    database = Database(url)
    run_migrations(database)  # once, before any worker starts
    database.dispose()
    os.environ["STOCKFLOW_DATABASE_URL"] = url
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"stockflow serving on http://{bind_host}:{bind_port}", highlight=False)
    # The relay is a process of its own beside the workers: its rounds never
    # wait behind requests, and the workers never wait behind it.
    relaying = beside(url) if settings.relay else None
    try:
        uvicorn.run(
            "stockflow.api.app:app_from_settings",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=workers,
            log_level="warning",
            access_log=False,  # not shown at this level; skip building the lines
        )
    finally:
        if relaying is not None:
            stop_beside(relaying)


@app.command()
def verify(
    db: DbOption = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Sum the whole ledger from the first move and check the checkpoint too"
        ),
    ] = False,
) -> None:
    """Recompute invariants I1-I3 from the ledger; exit 1 if anything drifted.

    Reads the moves since the last checkpoint, and moves the checkpoint on
    when all agrees.
    """
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        found = sf.verify_books(full=full)
    finally:
        sf.close()
    console.print(_what_was_read(found), highlight=False, soft_wrap=True)
    if not found.drift:
        console.print("[green]verify: ledger, positions and allocations agree[/green]")
        return
    for d in found.drift:
        err.print(f"[red]{d.invariant}[/red] {d.message}", highlight=False)
    if found.rebuilt:
        err.print(f"verify: checkpoint rebuilt from the ledger through move {found.checkpoint}")
    err.print(f"verify: {len(found.drift)} problem(s)")
    raise typer.Exit(1)


def _what_was_read(found: Verification) -> str:
    start = f"after move {found.since:,}" if found.since else "from the first move"
    moved = (
        f"checkpoint moved to move {found.checkpoint:,}"
        if found.moved
        else f"checkpoint stays at move {found.checkpoint:,}"
    )
    moves = "move" if found.moves_read == 1 else "moves"
    return f"verify: read {found.moves_read:,} {moves} {start}; {moved}"


@app.command()
def atp(
    skus: Annotated[list[str], typer.Argument(help="SKU codes")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Available-to-promise of SKUs, per location and in total."""
    from dataclasses import asdict

    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        rows = sf.atp(skus)
    finally:
        sf.close()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows]))
        return
    table = Table("SKU", "location", "on hand", "allocated", "expired", "buffer", "available")
    for r in rows:
        for loc in r.locations:
            table.add_row(
                r.sku,
                loc.location,
                *(
                    str(v)
                    for v in (loc.on_hand, loc.allocated, loc.expired, loc.buffer, loc.available)
                ),
            )
        table.add_row(
            f"[bold]{r.sku}[/bold]",
            "all",
            str(r.on_hand),
            str(r.allocated),
            "",
            "",
            f"[bold]{r.available}[/bold]",
        )
    console.print(table)


@app.command()
@audited
def demo(
    db: DbOption = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database has SKUs already")
    ] = False,
) -> None:
    """Load the demo data set and a user per role, whose passwords it prints once."""
    from sqlalchemy import func, select

    from stockflow.adapters.tables import skus
    from stockflow.bootstrap import Stockflow
    from stockflow.cli.demo import load_demo
    from stockflow.cli.demo_users import add_demo_users, print_logins, reminder

    sf = Stockflow.open(database_url(db))
    try:
        with sf.db.read() as conn:
            count = conn.execute(select(func.count()).select_from(skus)).scalar_one()
        if count and if_empty:
            console.print(f"demo: database already holds {count} SKUs; left as it is")
            console.print(reminder(sf), highlight=False, soft_wrap=True)
            return
        made = load_demo(sf)
        logins = add_demo_users(sf)
    finally:
        sf.close()
    console.print("demo data loaded: " + ", ".join(f"{v} {k}" for k, v in made.items()))
    print_logins(console, logins)


app.command()(bench)
app.command()(export)
app.command()(relay)
app.add_typer(import_app, name="import", help="Bulk import from CSV or XLSX (all or nothing)")
app.add_typer(orders_app, name="orders", help="Orders: import order sheets")
app.add_typer(receiving_app, name="receiving", help="Purchasing, receiving and putaway")
app.add_typer(floor_app, name="floor", help="Warehouse floor: waves, pick lists, labels")
app.add_typer(transfers_app, name="transfers", help="Transfers between locations")
app.add_typer(counts_app, name="counts", help="Cycle counts: blind sheets, accuracy")
app.add_typer(returns_app, name="returns", help="Returns (RMAs): show one, list them")
app.add_typer(users_app, name="users", help="Users: add, list, passwords, disable, enable")
app.add_typer(tokens_app, name="tokens", help="API tokens: issue, list, revoke")
app.add_typer(
    webhooks_app, name="webhooks", help="Webhooks: subscribe, pause, rotate, log, redeliver"
)


def main() -> None:
    """Entry point of the ``stockflow`` script."""
    from stockflow.errors import StockflowError

    try:
        app()
    except StockflowError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(2) from None
