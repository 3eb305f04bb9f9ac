"""Receipts: a delivery booked in against a PO, an ASN, or no document, all or nothing.

Good units land in the location's dock bin (reason ``receipt``); damaged ones
in its quarantine bin, where they are on hand but never available. Whatever
differs from the document (over, short, damaged) is written on the receipt
lines and raised in the exceptions queue with the receipt as its reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import (
    incoming_supply,
    locations,
    purchase_orders,
    receipt_lines,
    receipts,
    skus,
    suppliers,
)
from stockflow.errors import IdempotencyKeyReused, StockflowError
from stockflow.receiving.queries import receipt_seen
from stockflow.receiving.receipt_match import Document, Group, document, groups, po_status_after
from stockflow.receiving.rules.purchasing import Receive
from stockflow.stock.bins import work_bin
from stockflow.stock.exceptions import raise_exception
from stockflow.stock.ids import new_id
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import ReceiptLine, ReceiptPosted, StockFreed, SupplyChanged
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.places import BinRole

# A move's error names the move's field; the caller sent a receipt line.
_LINE_FIELDS = {"qty": "received_qty", "to.lot": "lot", "sku": "sku"}


@dataclass(frozen=True, slots=True)
class Received:
    """A receipt written (or found again under its idempotency key)."""

    id: str
    replayed: bool
    stocked: frozenset[str] = frozenset()  # SKUs with good units on the dock now
    supply_skus: frozenset[int] = frozenset()  # SKU ids whose supply or stock changed


def receive(
    conn: Connection, cmd: Receive, *, now: datetime, scope: Scope = EVERYWHERE
) -> Received:
    """Book a delivery (checked) in, or nothing if any line is wrong; a known key replays it.

    Only against a PO (or ASN) ``scope`` sees, or blind at one of its locations.
    """
    if cmd.idempotency_key is not None:
        earlier = _earlier(conn, cmd, scope)
        if earlier is not None:
            return earlier
    doc = document(conn, cmd, scope=scope)
    found = groups(conn, cmd, doc)
    new_status = po_status_after(doc, found)  # the guard, before anything is written
    receipt_id = new_id("R")
    conn.execute(
        receipts.insert().values(
            id=receipt_id,
            location_id=doc.location.id,
            po_id=doc.po.id if doc.po else None,
            asn_id=doc.asn_id,
            actor=cmd.actor,
            note=cmd.note,
            idempotency_key=cmd.idempotency_key,
            created_at=now,
        )
    )
    quarantine = _post(conn, cmd, doc=doc, receipt_id=receipt_id, now=now)
    _write_lines(conn, cmd, doc=doc, found=found, receipt_id=receipt_id)
    if doc.po is not None:
        _update_supply(conn, doc.po.id, found)
        conn.execute(
            update(purchase_orders)
            .where(purchase_orders.c.id == doc.po.id)
            .values(status=new_status, updated_at=now)
        )
    where = f"quarantine bin {quarantine} at {doc.location.code}"
    for g in found:
        for _, message in g.expectation(doc, where).messages(receipt_id):
            raise_exception(
                conn,
                ExceptionKind.RECEIVING_DISCREPANCY,
                message,
                now=now,
                sku_id=g.sku_id,
                reference=receipt_id,
                location_id=doc.location.id,
            )
    record(conn, _posted(conn, cmd, doc, receipt_id), now=now)
    stocked = frozenset(g.sku for g in found if g.received > g.damaged)
    if stocked:
        record(conn, StockFreed.of(stocked, "receipt"), now=now)
    record(conn, SupplyChanged.of((g.sku for g in found), "receipt"), now=now)
    return Received(receipt_id, False, stocked, frozenset(g.sku_id for g in found))


def _posted(conn: Connection, cmd: Receive, doc: Document, receipt_id: str) -> ReceiptPosted:
    """``receipt.posted``: what arrived where, against which document of which supplier."""
    supplier = None
    if doc.po is not None:
        supplier = conn.execute(
            select(suppliers.c.code).where(suppliers.c.id == doc.po.supplier_id)
        ).scalar_one()
    lines = tuple(
        ReceiptLine(ln.sku, ln.received_qty, ln.damaged_qty, ln.lot or None) for ln in cmd.lines
    )
    po = doc.po.id if doc.po is not None else None
    return ReceiptPosted(receipt_id, doc.location.code, po, doc.asn_id, supplier, lines)


def _post(
    conn: Connection,
    cmd: Receive,
    *,
    doc: Document,
    receipt_id: str,
    now: datetime,
) -> str:
    """Post good units to the dock and damaged ones to quarantine; the quarantine bin's code."""
    _, dock = work_bin(conn, doc.location.id, BinRole.RECEIVING)
    _, quarantine = work_bin(conn, doc.location.id, BinRole.QUARANTINE)
    moves, owners = [], []
    for i, line in enumerate(cmd.lines):
        good = line.received_qty - line.damaged_qty
        parts = ((good, dock, None), (line.damaged_qty, quarantine, "damaged on arrival"))
        for qty, bin_code, note in parts:
            if qty > 0:
                moves.append(
                    PostMove(
                        line.sku,
                        qty,
                        "receipt",
                        target=Place(doc.location.code, bin_code, line.lot),
                        actor=cmd.actor,
                        reference=receipt_id,
                        note=note,
                        lot_expires_on=line.expires_on,
                    )
                )
                owners.append(i)
    try:
        post_moves(conn, moves, now=now, rows=owners)
    except StockflowError as exc:
        if exc.row is not None:  # the row is the index of the receipt line the move came from
            name = _LINE_FIELDS.get(exc.field or "", exc.field or "sku")
            exc.field, exc.row = f"lines[{exc.row}].{name}", None
        raise
    return quarantine


def _write_lines(
    conn: Connection, cmd: Receive, *, doc: Document, found: list[Group], receipt_id: str
) -> None:
    """One receipt line per line sent, then one per announced line nothing came for.

    A PO line's expected units are written on its first receipt line only (a
    second lot of the same PO line carries none), so they add up.
    """
    by_line = {i: g for g in found for i in g.lines}
    rows = []
    for i, line in enumerate(cmd.lines):
        g = by_line[i]
        rows.append(
            {
                "receipt_id": receipt_id,
                "line_no": i + 1,
                "sku_id": g.sku_id,
                "lot_code": line.lot or "",
                "po_line_no": g.po_line_no,
                "expected_qty": doc.expected(g.po_line_no) if g.first == i else None,
                "received_qty": line.received_qty,
                "damaged_qty": line.damaged_qty,
            }
        )
    for g in found:
        if g.first is None:
            rows.append(
                {
                    "receipt_id": receipt_id,
                    "line_no": len(rows) + 1,
                    "sku_id": g.sku_id,
                    "lot_code": "",
                    "po_line_no": g.po_line_no,
                    "expected_qty": doc.expected(g.po_line_no),
                    "received_qty": 0,
                    "damaged_qty": 0,
                }
            )
    conn.execute(receipt_lines.insert(), rows)


def _update_supply(conn: Connection, po_id: str, found: list[Group]) -> None:
    """Count what arrived against each PO line, in the database (never read-modify-write)."""
    for g in found:
        if g.po_line_no is None or (g.received == 0 and g.damaged == 0):
            continue
        conn.execute(
            update(incoming_supply)
            .where(
                incoming_supply.c.document_id == po_id, incoming_supply.c.line_no == g.po_line_no
            )
            .values(
                received_qty=incoming_supply.c.received_qty + g.received,
                damaged_qty=incoming_supply.c.damaged_qty + g.damaged,
            )
        )


def _earlier(conn: Connection, cmd: Receive, scope: Scope) -> Received | None:
    """The receipt written before under this key; ``IdempotencyKeyReused`` if it differs.

    A receipt outside ``scope`` is never answered: its key counts as used for another.
    """
    key = cmd.idempotency_key
    found = conn.execute(
        select(receipts, locations.c.code.label("location"))
        .join(locations, locations.c.id == receipts.c.location_id)
        .where(receipts.c.idempotency_key == key)
    ).first()
    if found is None or key is None:
        return None
    mine = conn.execute(
        select(receipts.c.id).where(receipts.c.id == found.id, *receipt_seen(scope))
    ).first()
    if mine is None:
        raise IdempotencyKeyReused(key)
    stored = conn.execute(
        select(
            skus.c.code,
            receipt_lines.c.lot_code,
            receipt_lines.c.received_qty,
            receipt_lines.c.damaged_qty,
        )
        .join(skus, skus.c.id == receipt_lines.c.sku_id)
        .where(receipt_lines.c.receipt_id == found.id)
        .order_by(receipt_lines.c.line_no)
    ).all()
    sent = [(ln.sku, ln.lot or "", ln.received_qty, ln.damaged_qty) for ln in cmd.lines]
    kept = [(r.code, r.lot_code, int(r.received_qty), int(r.damaged_qty)) for r in stored]
    # Against an ASN the PO may be left out; it is the ASN's either way.
    same_po = cmd.po_id in (None, found.po_id) if cmd.asn_id else cmd.po_id == found.po_id
    same = (
        kept[: len(sent)] == sent
        and same_po
        and found.asn_id == cmd.asn_id
        and cmd.location in (None, found.location)
    )
    if not same:
        raise IdempotencyKeyReused(key)
    return Received(found.id, True)
