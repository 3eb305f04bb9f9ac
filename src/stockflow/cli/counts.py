"""``stockflow counts``: open a cycle count, print its blind sheet, report accuracy."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.cli.acting import audited
from stockflow.cli.options import ActorOption, DbOption, database_url, iso_day
from stockflow.errors import InvalidInput

counts_app = typer.Typer(no_args_is_help=True, help="Cycle counts: open, print a blind sheet")
console = Console()


@counts_app.command("create")
@audited
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

    first, last = iso_day(start, "from"), iso_day(end, "to")
    sf = Stockflow.open(database_url(db))
    try:
        rows = list(
            every(
                lambda after: sf.counts.accuracy(
                    start=first, end=last, location=location, after=after, limit=MAX_PAGE
                )
            )
        )
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
