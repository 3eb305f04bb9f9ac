"""``stockflow transfers``: ship stock from one location and book it in at another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.cli.acting import audited
from stockflow.cli.options import ActorOption, DbOption, database_url, iso_day
from stockflow.errors import InvalidInput

if TYPE_CHECKING:
    from stockflow.transfers.queries import TransferView

transfers_app = typer.Typer(no_args_is_help=True, help="Ship and receive transfers")
console = Console()


def _whole(value: str, field: str) -> int:
    if not value.isdigit():
        raise InvalidInput(f"{value!r} is not a whole number", field=field)
    return int(value)


def _print_transfer(view: TransferView) -> None:
    console.print(
        f"transfer {view.id}: {view.from_location} -> {view.to_location}, {view.status}, "
        f"expected {view.expected_on}",
        highlight=False,
    )
    table = Table("line", "SKU", "lot", "shipped", "received", "damaged", "lost", "over")
    for ln in view.lines:
        table.add_row(
            str(ln.line_no), ln.sku, ln.lot or "",
            *(str(v) for v in (ln.shipped, ln.received, ln.damaged, ln.lost, ln.over)),
        )  # fmt: skip
    console.print(table)


@transfers_app.command("ship")
@audited
def ship(
    lines: Annotated[list[str], typer.Argument(help="SKU:QTY or SKU:QTY:LOT")],
    source: Annotated[str, typer.Option("--from", help="Location the units leave")],
    target: Annotated[str, typer.Option("--to", help="Location they go to")],
    expected: Annotated[str, typer.Option("--expected", help="Arrival date, YYYY-MM-DD")],
    actor: ActorOption = "cli",
    db: DbOption = None,
) -> None:
    """Ship free units between locations, every line or none."""
    from stockflow.bootstrap import Stockflow
    from stockflow.transfers.rules import TransferLineIn

    wanted = []
    for i, text in enumerate(lines):
        sku, _, rest = text.partition(":")
        qty, _, lot = rest.partition(":")
        wanted.append(TransferLineIn(sku, _whole(qty, f"lines[{i}].qty"), lot or None))
    arrival = iso_day(expected, "expected")
    sf = Stockflow.open(database_url(db))
    try:
        view = sf.transfers.ship(
            from_location=source, to_location=target, lines=wanted, expected_on=arrival,
            actor=actor,
        )  # fmt: skip
    finally:
        sf.close()
    _print_transfer(view)


@transfers_app.command("receive")
@audited
def receive(
    transfer_id: Annotated[str, typer.Argument(help="The transfer")],
    lines: Annotated[list[str], typer.Argument(help="LINE:RECEIVED or LINE:RECEIVED:DAMAGED")],
    actor: ActorOption = "cli",
    db: DbOption = None,
) -> None:
    """Book in what arrived: every line, with 0 for a line that did not come at all."""
    from stockflow.bootstrap import Stockflow
    from stockflow.transfers.rules import ReceiveLine

    arrived = []
    for i, text in enumerate(lines):
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise InvalidInput(f"{text!r}: write LINE:RECEIVED[:DAMAGED]", field=f"lines[{i}]")
        numbers = [_whole(p, f"lines[{i}]") for p in parts]
        arrived.append(ReceiveLine(*numbers))
    sf = Stockflow.open(database_url(db))
    try:
        view = sf.transfers.receive(transfer_id, arrived, actor=actor)
    finally:
        sf.close()
    _print_transfer(view)


@transfers_app.command("show")
def show(transfer_id: str, db: DbOption = None) -> None:
    """One transfer with its lines."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        view = sf.transfers.transfer(transfer_id)
    finally:
        sf.close()
    _print_transfer(view)
