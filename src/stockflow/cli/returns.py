"""``stockflow returns``: look up RMAs, their lines, dispositions and refund suggestions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.cli.options import DbOption, database_url

if TYPE_CHECKING:
    from stockflow.returns.queries import ReturnView

returns_app = typer.Typer(no_args_is_help=True, help="Returns (RMAs): show one, list them")
console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _as_json(view: ReturnView) -> dict[str, object]:
    from dataclasses import asdict

    body = asdict(view)
    body["refund_suggested"] = str(view.refund_suggested)  # money stays exact, never a float
    for key in ("created_at", "updated_at"):
        body[key] = body[key].isoformat()
    for d in body["dispositions"]:
        d["at"] = d["at"].isoformat()
    body.pop("replayed")
    return body


@returns_app.command("show")
def show(
    rma_id: Annotated[str, typer.Argument(help="The RMA id")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One RMA: its lines (authorised, arrived, inspected), dispositions and refund suggestion."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        view = sf.returns.rma(rma_id)
    finally:
        sf.close()
    if as_json:
        typer.echo(json.dumps(_as_json(view)))
        return
    console.print(
        f"{view.id} for order {view.order_id}: {view.status}, back to {view.location}, "
        f"refund suggested {view.refund_suggested}\nreason: {view.reason}",
        highlight=False,
    )
    lines = Table("line", "order line", "sku", "authorised", "arrived", "inspected")
    for ln in view.lines:
        lines.add_row(
            str(ln.line_no), str(ln.order_line_no), ln.sku,
            *(str(n) for n in (ln.qty, ln.received, ln.inspected)),
        )  # fmt: skip
    console.print(lines)
    if view.dispositions:
        done = Table("line", "disposition", "qty", "note", "by", "at")
        for d in view.dispositions:
            done.add_row(
                str(d.line_no), d.disposition, str(d.qty), d.note or "", d.actor,
                d.at.isoformat(timespec="seconds"),
            )  # fmt: skip
        console.print(done)


@returns_app.command("list")
def list_returns(
    db: DbOption = None,
    status: Annotated[str | None, typer.Option(help="Only RMAs in this status")] = None,
    order: Annotated[str | None, typer.Option(help="Only RMAs of this order")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 50,
    as_json: JsonOption = False,
) -> None:
    """RMAs, newest first."""
    from stockflow.bootstrap import Stockflow

    sf = Stockflow.open(database_url(db))
    try:
        page = sf.returns.page(status=status, order_id=order, limit=limit)
    finally:
        sf.close()
    if as_json:
        typer.echo(json.dumps([_as_json(v) for v in page]))
        return
    table = Table("RMA", "order", "status", "location", "units", "arrived", "inspected", "refund")
    for v in page:
        units = sum(ln.qty for ln in v.lines)
        arrived = sum(ln.received for ln in v.lines)
        inspected = sum(ln.inspected for ln in v.lines)
        table.add_row(
            v.id, v.order_id, v.status, v.location, str(units), str(arrived), str(inspected),
            str(v.refund_suggested),
        )  # fmt: skip
    console.print(table)
    if not page:
        console.print("no RMAs")
