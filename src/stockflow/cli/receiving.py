"""``stockflow receiving``: purchase orders from sheets, receipts, putaway at the dock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stockflow.cli.acting import audited
from stockflow.cli.imports import DryRunOption, FileArgument, report_outcome, run_file_import
from stockflow.cli.options import DbOption, database_url

if TYPE_CHECKING:
    from stockflow.bootstrap import Stockflow
    from stockflow.receiving.queries import ReceiptView
    from stockflow.stock.imports import ProgressCallback

receiving_app = typer.Typer(
    no_args_is_help=True, help="Purchasing and receiving: POs, receipts, putaway"
)
console = Console(soft_wrap=True)
err = Console(stderr=True)

Location = Annotated[str, typer.Option("--location", help="Location code")]
Sku = Annotated[str, typer.Option("--sku", help="SKU code")]
Qty = Annotated[int, typer.Option("--qty", min=1, help="Units")]
Lot = Annotated[str | None, typer.Option("--lot", help="Lot code (lot-tracked SKUs)")]
_SHOWN = 20  # purchase orders listed after an import; the rest are counted


@receiving_app.command("po-import")
@audited
def po_import(file: FileArgument, dry_run: DryRunOption = False, db: DbOption = None) -> None:
    """Place the purchase orders of a sheet, every one or none, once.

    Columns: supplier, location, sku, qty, unit_cost [, expected_on, reference].
    Rows with the same supplier, location, reference and expected date are one
    order; expected_on defaults to today + the supplier's lead time. Importing
    a file again places nothing twice; --dry-run lists every problem and
    writes nothing.
    """
    from stockflow.bootstrap import Stockflow
    from stockflow.receiving.purchase_sheets import import_purchase_orders

    summary = run_file_import(import_purchase_orders, file, db, dry_run=dry_run)
    if report_outcome(summary):
        return
    sf = Stockflow.open(database_url(db))
    try:
        shown = [sf.receiving.purchase_order(po_id) for po_id in summary.orders[:_SHOWN]]
    finally:
        sf.close()
    for po in shown:
        console.print(
            f"{po.id}: {po.supplier} -> {po.location}, {len(po.lines)} line(s), "
            f"expected {po.expected_on}, cost {po.total_cost:.2f}",
            highlight=False,
        )
    if len(summary.orders) > _SHOWN:
        console.print(f"... and {len(summary.orders) - _SHOWN:,} more", highlight=False)
    console.print(
        f"purchase_orders: {len(summary.orders):,} order(s) from {summary.rows:,} row(s) of "
        f"{summary.file} in {summary.seconds:.1f}s",
        highlight=False,
    )


@receiving_app.command("receive")
@audited
def receive(
    file: FileArgument,
    po: Annotated[str | None, typer.Option("--po", help="The purchase order received")] = None,
    asn: Annotated[str | None, typer.Option("--asn", help="The ASN received")] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Where (a receipt without PO or ASN)")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note on the receipt")] = None,
    db: DbOption = None,
) -> None:
    """Book a delivery in from a sheet, all or nothing.

    Columns: sku, received_qty [, damaged_qty, lot, expires_on, po_line_no]. Good
    units go to the dock, damaged ones to quarantine. Receiving the same file
    against the same document again changes nothing.
    """

    def book(
        sf: Stockflow, path: Path, *, progress: ProgressCallback | None = None,
        dry_run: bool = False,
    ) -> ReceiptView:  # fmt: skip
        from stockflow.receiving.purchase_sheets import receipt_lines_in
        from stockflow.receiving.rules.purchasing import Receive

        sheet = receipt_lines_in(path)
        key = f"{sheet.key}:{po or ''}:{asn or ''}:{location or ''}"
        cmd = Receive(
            sheet.lines,
            po_id=po,
            asn_id=asn,
            location=location,
            note=note,
            actor="cli",
            idempotency_key=key[:128],
        )
        return sf.receiving.receive(cmd, rows=sheet.rows)

    receipt = run_file_import(book, file, db)
    units = sum(ln.received for ln in receipt.lines)
    console.print(
        f"{receipt.id}: {units} unit(s) on {len(receipt.lines)} line(s) at {receipt.location}"
        + (" (received before)" if receipt.replayed else ""),
        highlight=False,
    )
    for d in receipt.discrepancies:
        console.print(f"[yellow]discrepancy:[/yellow] {d.message}", highlight=False)


@receiving_app.command("putaway-suggest")
def putaway_suggest(
    location: Location, sku: Sku, qty: Qty, lot: Lot = None, db: DbOption = None
) -> None:
    """Say which storage bin units on the dock should go to, and why."""
    with _session(db) as sf:
        found = sf.receiving.suggest_putaway(location=location, sku=sku, qty=qty, lot=lot)
    console.print(f"{found.bin}: {found.reason}", highlight=False)


@receiving_app.command("putaway")
@audited
def putaway(
    location: Location,
    sku: Sku,
    qty: Qty,
    to_bin: Annotated[str, typer.Option("--to-bin", help="The bin scanned")],
    lot: Lot = None,
    from_bin: Annotated[str | None, typer.Option("--from-bin", help="Default: the dock")] = None,
    db: DbOption = None,
) -> None:
    """Move units from the dock into the scanned storage bin (their allocations go along)."""
    from stockflow.receiving.rules.putaway import ConfirmPutaway

    with _session(db) as sf:
        done = sf.receiving.confirm_putaway(
            ConfirmPutaway(location, sku, qty, to_bin, lot=lot, from_bin=from_bin, actor="cli")
        )
    console.print(
        f"{done.reference}: {done.qty} x {done.sku} {done.from_bin} -> {done.to_bin}"
        + (f" ({done.note})" if done.note else ""),
        highlight=False,
    )


@receiving_app.command("po-close")
@audited
def po_close(
    po_id: Annotated[str, typer.Argument(help="Purchase order id")], db: DbOption = None
) -> None:
    """Close a purchase order: what it has not delivered is no longer expected."""
    with _session(db) as sf:
        po = sf.receiving.close_order(po_id)
    console.print(f"{po.id}: {po.status}", highlight=False)


@receiving_app.command("po-cancel")
@audited
def po_cancel(
    po_id: Annotated[str, typer.Argument(help="Purchase order id")], db: DbOption = None
) -> None:
    """Cancel a purchase order that has not been fully received."""
    with _session(db) as sf:
        po = sf.receiving.cancel_order(po_id)
    console.print(f"{po.id}: {po.status}", highlight=False)


@contextmanager
def _session(db: str | None) -> Iterator[Stockflow]:
    """A stockflow for one command; a refusal prints one line and exits 2."""
    from stockflow.bootstrap import Stockflow
    from stockflow.errors import StockflowError

    sf = Stockflow.open(database_url(db))
    try:
        yield sf
    except StockflowError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        sf.close()
