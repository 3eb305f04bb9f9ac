"""``stockflow transfers`` and ``stockflow counts``: stock between sites, and cycle counts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.cli.options import DbOption, database_url
from stockflow.errors import InvalidInput

if TYPE_CHECKING:
    from stockflow.transfers.queries import TransferView

transfers_app = typer.Typer(no_args_is_help=True, help="Ship and receive transfers")
counts_app = typer.Typer(no_args_is_help=True, help="Cycle counts: open, print a blind sheet")
console = Console()

ActorOption = Annotated[str, typer.Option("--actor", help="Who does this")]


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


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
    arrival = _day(expected, "expected")
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


@counts_app.command("create")
def create(
    location: Annotated[str, typer.Option("--location", help="Where to count")],
    zone: Annotated[str | None, typer.Option(help="Every storage bin of this zone")] = None,
    bins: Annotated[str | None, typer.Option(help="These bins, comma-separated")] = None,
    abc: Annotated[str | None, typer.Option(help="Bins holding SKUs of class A, B or C")] = None,
    days: Annotated[int, typer.Option(help="History for --abc, in days")] = 90,
    short_picks: Annotated[
        bool, typer.Option("--short-picks", help="Bins short-picked since their last count")
    ] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Every storage bin of the location")
    ] = False,
    tolerance: Annotated[str, typer.Option(help="Tolerance in percent")] = "0",
    actor: ActorOption = "cli",
    db: DbOption = None,
) -> None:
    """Open a count over one scope: --all, --zone, --bins, --abc or --short-picks."""
    from stockflow.bootstrap import Stockflow
    from stockflow.counts.rules import CountScope, ScopeKind

    chosen = [k for k, on in (("location", everything), ("zone", zone), ("bins", bins),
                              ("abc", abc), ("short_picks", short_picks)) if on]  # fmt: skip
    if len(chosen) != 1:
        raise InvalidInput(
            "give exactly one of --all, --zone, --bins, --abc, --short-picks", field="scope"
        )
    codes = tuple(b.strip() for b in (bins or "").split(",") if b.strip())
    scope = CountScope(ScopeKind(chosen[0]).value, zone, codes, abc, days)
    sf = Stockflow.open(database_url(db))
    try:
        view = sf.counts.create(
            location=location, scope=scope, tolerance_pct=tolerance, actor=actor
        )
    finally:
        sf.close()
    console.print(
        f"count {view.id} at {view.location} ({view.scope}): {len(view.lines)} line(s), "
        f"tolerance {view.tolerance_pct}%",
        highlight=False,
    )


@counts_app.command("sheet")
def sheet(count_id: str, db: DbOption = None) -> None:
    """Print the blind count sheet: where to count and what, with room for the count."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        view = sf.counts.sheet(count_id)
    finally:
        sf.close()
    console.print(f"count {view.id} at {view.location} ({view.scope}), {view.status}")
    table = Table("line", "bin", "zone", "SKU", "item", "lot", "counted")
    for ln in view.lines:
        counted = str(ln.counted) if ln.counted is not None else "________"
        table.add_row(
            str(ln.line_no), ln.bin, ln.zone or "", ln.sku, ln.sku_name, ln.lot or "", counted
        )
    console.print(table)


@counts_app.command("accuracy")
def accuracy(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")],
    location: Annotated[str | None, typer.Option(help="Only this location")] = None,
    db: DbOption = None,
) -> None:
    """Inventory record accuracy per location: counted lines the books had right."""
    from stockflow.bootstrap import Stockflow

    first, last = _day(start, "from"), _day(end, "to")
    sf = Stockflow.open(database_url(db))
    try:
        rows = sf.counts.accuracy(start=first, end=last, location=location)
    finally:
        sf.close()
    table = Table("location", "counted", "exact", "within tolerance", "accuracy %", "within %")
    for r in rows:
        a = r.accuracy
        table.add_row(
            r.location, str(a.counted), str(a.exact), str(a.within_tolerance),
            "-" if a.accuracy_pct is None else str(a.accuracy_pct),
            "-" if a.within_tolerance_pct is None else str(a.within_tolerance_pct),
        )  # fmt: skip
    console.print(table)
