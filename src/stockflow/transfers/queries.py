"""Transfers as people read them: where from and to, and per line what left and what arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.sets import among
from stockflow.adapters.tables import incoming_supply, locations, skus, transfers
from stockflow.errors import InvalidInput, NotFound
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.scoping import seen
from stockflow.transfers.rules import TransferStatus


class UnknownTransfer(NotFound):
    """No transfer has that id."""

    title = "Unknown transfer"


@dataclass(frozen=True, slots=True)
class TransferLineView:
    """One line: units shipped and, once received, what arrived and what was lost."""

    line_no: int
    sku: str
    lot: str | None
    shipped: int
    received: int  # every unit that arrived, damaged ones included
    damaged: int
    lost: int  # shipped but never arrived (0 until the transfer is received)
    over: int  # arrived beyond what was shipped


@dataclass(frozen=True, slots=True)
class TransferView:
    """A transfer with its lines."""

    id: str
    from_location: str
    to_location: str
    status: str
    expected_on: date
    created_by: str
    created_at: datetime
    updated_at: datetime
    received_at: datetime | None
    lines: tuple[TransferLineView, ...]
    replayed: bool = False


_from = locations.alias("from_location")
_to = locations.alias("to_location")
_HEAD = (
    select(
        transfers, _from.c.code.label("from_code"), _to.c.code.label("to_code")
    )
    .join(_from, _from.c.id == transfers.c.from_location_id)
    .join(_to, _to.c.id == transfers.c.to_location_id)
)  # fmt: skip


def transfer_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """Transfers ``scope`` sees: leaving from or arriving at one of its locations."""
    return seen(scope, location=(transfers.c.from_location_id, transfers.c.to_location_id))


def load_transfer(conn: Connection, transfer_id: str, *, scope: Scope = EVERYWHERE) -> TransferView:
    """One transfer, or ``UnknownTransfer`` (for one ``scope`` does not see too)."""
    found = load_transfers(conn, [transfer_id], scope=scope).get(transfer_id)
    if found is None:
        raise UnknownTransfer(f"no transfer {transfer_id!r}", field="transfer_id")
    return found


def load_transfers(
    conn: Connection, ids: list[str], *, scope: Scope = EVERYWHERE
) -> dict[str, TransferView]:
    """Transfers by id (unknown ones, and those ``scope`` does not see, left out)."""
    if not ids:
        return {}
    wanted = among(transfers.c.id, ids)
    heads = conn.execute(_HEAD.where(wanted, *transfer_seen(scope))).all()
    lines = _lines(conn, [h.id for h in heads])
    return {
        h.id: TransferView(
            id=h.id,
            from_location=h.from_code,
            to_location=h.to_code,
            status=h.status,
            expected_on=h.expected_on,
            created_by=h.created_by,
            created_at=h.created_at,
            updated_at=h.updated_at,
            received_at=h.received_at,
            lines=tuple(lines.get(h.id, [])),
        )
        for h in heads
    }


def _lines(conn: Connection, ids: list[str]) -> dict[str, list[TransferLineView]]:
    rows = conn.execute(
        select(
            incoming_supply.c.document_id,
            incoming_supply.c.line_no,
            skus.c.code.label("sku"),
            incoming_supply.c.lot_code,
            incoming_supply.c.qty,
            incoming_supply.c.received_qty,
            incoming_supply.c.damaged_qty,
            transfers.c.status,
        )
        .join(skus, skus.c.id == incoming_supply.c.sku_id)
        .join(transfers, transfers.c.id == incoming_supply.c.document_id)
        .where(incoming_supply.c.kind == "transfer", among(incoming_supply.c.document_id, ids))
        .order_by(incoming_supply.c.document_id, incoming_supply.c.line_no)
    )
    out: dict[str, list[TransferLineView]] = {}
    for r in rows:
        shipped, received = int(r.qty), int(r.received_qty)
        done = r.status == TransferStatus.RECEIVED.value
        out.setdefault(r.document_id, []).append(
            TransferLineView(
                line_no=int(r.line_no),
                sku=r.sku,
                lot=r.lot_code or None,
                shipped=shipped,
                received=received,
                damaged=int(r.damaged_qty),
                lost=max(0, shipped - received) if done else 0,
                over=max(0, received - shipped),
            )
        )
    return out


TRANSFERS = Keyset(
    "transfers", Key(transfers.c.created_at, descending=True), Key(transfers.c.id, descending=True)
)


def transfer_page(
    conn: Connection,
    *,
    status: str | None = None,
    location: str | None = None,
    limit: int,
    after: str | None = None,
    scope: Scope = EVERYWHERE,
) -> Page[TransferView]:
    """Transfers newest first, optionally of one status or leaving or reaching a location."""
    query = select(transfers.c.id).where(*transfer_seen(scope))
    if status is not None:
        if status not in {s.value for s in TransferStatus}:
            choices = ", ".join(s.value for s in TransferStatus)
            raise InvalidInput(f"use one of: {choices}", field="status")
        query = query.where(transfers.c.status == status)
    if location is None:
        page = TRANSFERS.page(conn, query, after=after, limit=limit)
    else:
        place = lookup.location_by_code(conn, location).id
        leaving = query.where(transfers.c.from_location_id == place)
        arriving = query.where(
            transfers.c.to_location_id == place, transfers.c.from_location_id != place
        )
        page = TRANSFERS.page_of_any(conn, [leaving, arriving], after=after, limit=limit)
    views = load_transfers(conn, [r.id for r in page])
    return page.map(lambda r: views[r.id])
