"""Receiving a transfer at its destination: every line at once, each unit accounted for.

Good units move from the in-transit location to the dock, damaged ones to
quarantine; what never arrived is written off in transit and what arrived
on top is booked in. Each line that did not arrive as shipped raises a
``transfer_discrepancy`` for a person to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import incoming_supply, locations, skus, transfers
from stockflow.stock import lookup
from stockflow.stock.bins import work_bin
from stockflow.stock.exceptions import raise_exception
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import (
    ArrivedLine,
    StockFreed,
    SupplyChanged,
    TransferReceived,
)
from stockflow.stock.rules.exceptions import ExceptionKind
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.places import DEFAULT_BIN, BinRole
from stockflow.stock.scoping import seen
from stockflow.transfers.dispatch import transit_code
from stockflow.transfers.queries import TransferView, UnknownTransfer, load_transfer
from stockflow.transfers.rules import (
    ReceiptSplit,
    ReceiveLine,
    TransferEvent,
    TransferStatus,
    checked_receipt,
    next_transfer_status,
    split_receipt,
)


@dataclass(frozen=True, slots=True)
class ReceiveTransfer:
    """What arrived of a transfer; ``idempotency_key`` makes a retried receipt answer 200."""

    transfer_id: str
    lines: tuple[ReceiveLine, ...]
    actor: str = "system"
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    line_no: int
    sku_id: int
    sku: str
    lot: str
    shipped: int


def receive_transfer(
    conn: Connection, cmd: ReceiveTransfer, *, now: datetime, scope: Scope = EVERYWHERE
) -> TransferView:
    """Book a transfer in at its destination, all lines at once; a second receipt is refused.

    The transfer row is locked first, so two receipts of one transfer queue
    and the second finds it received. Only a transfer arriving at a location
    of ``scope`` is received; any other is not found.
    """
    head = conn.execute(
        select(transfers.c.status, transfers.c.to_location_id)
        .where(transfers.c.id == cmd.transfer_id, *seen(scope, location=transfers.c.to_location_id))
        .with_for_update()
    ).first()
    if head is None:
        raise UnknownTransfer(f"no transfer {cmd.transfer_id!r}", field="transfer_id")
    if head.status == TransferStatus.RECEIVED.value and cmd.idempotency_key is not None:
        earlier = load_transfer(conn, cmd.transfer_id)
        if _received_as(earlier, cmd.lines):
            return replace(earlier, replayed=True)
    status = next_transfer_status(head.status, TransferEvent.RECEIVE, transfer_id=cmd.transfer_id)
    lines = _supply_lines(conn, cmd.transfer_id)
    arrived = checked_receipt(cmd.lines, lines)
    destination = _location(conn, int(head.to_location_id))
    _post_receipt(conn, cmd, destination=destination, lines=lines, arrived=arrived, now=now)
    for line_no, got in arrived.items():
        conn.execute(
            update(incoming_supply)
            .where(incoming_supply.c.document_id == cmd.transfer_id,
                   incoming_supply.c.line_no == line_no)
            .values(received_qty=got.received, damaged_qty=got.damaged)
        )  # fmt: skip
    conn.execute(
        update(transfers)
        .where(transfers.c.id == cmd.transfer_id)
        .values(status=status.value, received_at=now, updated_at=now)
    )
    _raise_discrepancies(
        conn, cmd.transfer_id, lines=lines, arrived=arrived, at=destination, now=now
    )
    view = load_transfer(conn, cmd.transfer_id)
    record(conn, _received(view), now=now)
    good = {ln.sku for ln in view.lines if ln.received > ln.damaged}
    if good:
        record(conn, StockFreed.of(good, "transfer"), now=now)
    # What was on its way is no longer expected: promises made on it are looked at again.
    record(conn, SupplyChanged.of((ln.sku for ln in view.lines), "transfer received"), now=now)
    return view


def _received(view: TransferView) -> TransferReceived:
    """``transfer.received``: what arrived of each line."""
    lines = tuple(
        ArrivedLine(ln.line_no, ln.sku, ln.lot, ln.shipped, ln.received, ln.damaged, ln.lost)
        for ln in view.lines
    )
    return TransferReceived(view.id, view.from_location, view.to_location, lines)


def _received_as(view: TransferView, lines: tuple[ReceiveLine, ...]) -> bool:
    """Whether a retried receipt says what the stored one said."""
    stored = {ln.line_no: (ln.received, ln.damaged) for ln in view.lines}
    return stored == {ln.line_no: (ln.received, ln.damaged) for ln in lines}


def _supply_lines(conn: Connection, transfer_id: str) -> dict[int, _Line]:
    rows = conn.execute(
        select(
            incoming_supply.c.line_no, incoming_supply.c.sku_id, skus.c.code,
            incoming_supply.c.lot_code, incoming_supply.c.qty,
        )
        .join(skus, skus.c.id == incoming_supply.c.sku_id)
        .where(incoming_supply.c.kind == "transfer", incoming_supply.c.document_id == transfer_id)
        .order_by(incoming_supply.c.line_no)
    )  # fmt: skip
    return {
        int(r.line_no): _Line(int(r.line_no), int(r.sku_id), r.code, r.lot_code or "", int(r.qty))
        for r in rows
    }


def _location(conn: Connection, location_id: int) -> lookup.LocationRef:
    r = conn.execute(
        select(locations.c.id, locations.c.code, locations.c.kind, locations.c.allow_negative)
        .where(locations.c.id == location_id)
    ).one()  # fmt: skip
    return lookup.LocationRef(int(r.id), r.code, r.kind, bool(r.allow_negative))


def _post_receipt(
    conn: Connection, cmd: ReceiveTransfer, *, destination: lookup.LocationRef,
    lines: dict[int, _Line], arrived: dict[int, ReceiveLine], now: datetime,
) -> None:  # fmt: skip
    """The ledger side of a receipt: transit -> dock / quarantine, extras in, losses off."""
    splits = {
        n: split_receipt(line.shipped, arrived[n].received, arrived[n].damaged)
        for n, line in lines.items()
    }
    # Work bins are made on first use only: a clean receipt leaves no empty quarantine bin.
    dock = quarantine = None
    if any(s.good_from_transit or s.extra_good for s in splits.values()):
        dock = work_bin(conn, destination.id, BinRole.RECEIVING)[1]
    if any(s.damaged_from_transit or s.extra_damaged for s in splits.values()):
        quarantine = work_bin(conn, destination.id, BinRole.QUARANTINE)[1]
    ends = _Ends(transit_code(destination), destination.code, dock, quarantine)
    moves = [
        m for n, line in lines.items() for m in _line_moves(cmd, line, split=splits[n], ends=ends)
    ]
    post_moves(conn, moves, now=now)


@dataclass(frozen=True, slots=True)
class _Ends:
    transit: str
    site: str
    dock: str | None
    quarantine: str | None


def _line_moves(
    cmd: ReceiveTransfer, line: _Line, *, split: ReceiptSplit, ends: _Ends
) -> list[PostMove]:
    lot = line.lot or None
    transit = Place(ends.transit, DEFAULT_BIN, lot)
    dock = Place(ends.site, ends.dock, lot)
    quarantine = Place(ends.site, ends.quarantine, lot)
    over = "arrived beyond what was shipped"
    lost = f"lost in transit on transfer {cmd.transfer_id}"
    wanted: list[tuple[int, Place | None, Place | None, Reason, str | None]] = [
        (split.good_from_transit, transit, dock, Reason.TRANSFER_IN, None),
        (split.damaged_from_transit, transit, quarantine, Reason.TRANSFER_IN, None),
        (split.extra_good, None, dock, Reason.TRANSFER_IN, over),
        (split.extra_damaged, None, quarantine, Reason.TRANSFER_IN, over),
        (split.lost, transit, None, Reason.ADJUSTMENT, lost),
    ]
    return [
        PostMove(
            line.sku,
            qty,
            reason.value,
            source,
            target,
            actor=cmd.actor,
            reference=cmd.transfer_id,
            note=note,
        )
        for qty, source, target, reason, note in wanted
        if qty > 0
    ]


def _raise_discrepancies(
    conn: Connection, transfer_id: str, *, lines: dict[int, _Line],
    arrived: dict[int, ReceiveLine], at: lookup.LocationRef, now: datetime,
) -> None:  # fmt: skip
    """One exception per line that did not arrive as shipped: lost, damaged or over."""
    for line_no, line in lines.items():
        got = arrived[line_no]
        split = split_receipt(line.shipped, got.received, got.damaged)
        parts = []
        if split.lost:
            parts.append(f"{split.lost} lost in transit (written off)")
        if got.damaged:
            parts.append(f"{got.damaged} damaged (to quarantine)")
        if split.over:
            parts.append(f"{split.over} more than shipped (booked in)")
        if not parts:
            continue
        lot = f" lot {line.lot}" if line.lot else ""
        message = (
            f"transfer {transfer_id} line {line_no}: {line.sku}{lot} shipped {line.shipped}, "
            f"arrived {got.received}: " + "; ".join(parts)
        )
        raise_exception(
            conn,
            ExceptionKind.TRANSFER_DISCREPANCY,
            message,
            now=now,
            sku_id=line.sku_id,
            reference=transfer_id,
            location_id=at.id,
        )
