"""RMAs as people read them: lines with what arrived and was inspected, and every disposition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.sets import among
from stockflow.adapters.tables import locations, rma_dispositions, rma_lines, rmas, skus
from stockflow.errors import NotFound
from stockflow.returns.rules import return_status
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.scoping import seen


class UnknownReturn(NotFound):
    """No RMA has that id."""

    title = "Unknown RMA"


@dataclass(frozen=True, slots=True)
class ReturnLineView:
    """One RMA line: a SKU of an order line, authorised, arrived and inspected units."""

    line_no: int
    order_line_no: int
    sku: str
    qty: int
    received: int
    inspected: int

    @property
    def awaiting_inspection(self) -> int:
        """Units that arrived and have no disposition yet."""
        return self.received - self.inspected


@dataclass(frozen=True, slots=True)
class DispositionView:
    """One inspection decision on units of an RMA line."""

    id: int
    line_no: int
    disposition: str
    qty: int
    note: str | None
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReturnView:
    """An RMA with its lines, its dispositions and the refund it suggests."""

    id: str
    order_id: str
    location: str
    status: str
    reason: str
    refund_suggested: Decimal
    created_at: datetime
    updated_at: datetime
    lines: tuple[ReturnLineView, ...]
    dispositions: tuple[DispositionView, ...]
    replayed: bool = False


def rma_seen(scope: Scope) -> list[ColumnElement[bool]]:
    """RMAs ``scope`` sees: coming back to its locations, of orders of its channels."""
    return seen(scope, location=rmas.c.location_id, order=rmas.c.order_id)


def load_returns(
    conn: Connection, ids: Iterable[str], *, scope: Scope = EVERYWHERE
) -> dict[str, ReturnView]:
    """The RMAs with these ids (missing ones, and those ``scope`` does not see, left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    heads = conn.execute(
        select(rmas, locations.c.code.label("location"))
        .join(locations, locations.c.id == rmas.c.location_id)
        .where(among(rmas.c.id, wanted), *rma_seen(scope))
    ).all()
    lines, decided = _lines_of(conn, wanted), _dispositions_of(conn, wanted)
    return {
        h.id: ReturnView(
            id=h.id,
            order_id=h.order_id,
            location=h.location,
            status=h.status,
            reason=h.reason,
            refund_suggested=Decimal(h.refund_suggested),
            created_at=h.created_at,
            updated_at=h.updated_at,
            lines=tuple(lines[h.id]),
            dispositions=tuple(decided[h.id]),
        )
        for h in heads
    }


def _lines_of(conn: Connection, ids: list[str]) -> dict[str, list[ReturnLineView]]:
    lines: dict[str, list[ReturnLineView]] = defaultdict(list)
    for r in conn.execute(
        select(rma_lines, skus.c.code.label("sku"))
        .join(skus, skus.c.id == rma_lines.c.sku_id)
        .where(among(rma_lines.c.rma_id, ids))
        .order_by(rma_lines.c.rma_id, rma_lines.c.line_no)
    ):
        lines[r.rma_id].append(
            ReturnLineView(
                int(r.line_no), int(r.order_line_no), r.sku, int(r.qty), int(r.received_qty),
                int(r.inspected_qty),
            )
        )  # fmt: skip
    return lines


def _dispositions_of(conn: Connection, ids: list[str]) -> dict[str, list[DispositionView]]:
    decided: dict[str, list[DispositionView]] = defaultdict(list)
    for d in conn.execute(
        select(rma_dispositions)
        .where(among(rma_dispositions.c.rma_id, ids))
        .order_by(rma_dispositions.c.id)
    ):
        decided[d.rma_id].append(
            DispositionView(
                int(d.id), int(d.line_no), d.disposition, int(d.qty), d.note, d.actor, d.at
            )
        )
    return decided


def load_return(conn: Connection, rma_id: str, *, scope: Scope = EVERYWHERE) -> ReturnView:
    """One RMA, or ``UnknownReturn`` (for one ``scope`` does not see too)."""
    found = load_returns(conn, [rma_id], scope=scope).get(rma_id)
    if found is None:
        raise UnknownReturn(f"no RMA {rma_id!r}", field="rma_id")
    return found


RETURNS = Keyset(
    "returns", Key(rmas.c.created_at, descending=True), Key(rmas.c.id, descending=True)
)


def return_page(
    conn: Connection,
    *,
    status: str | None = None,
    order_id: str | None = None,
    after: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[ReturnView]:
    """Up to ``limit`` RMAs, newest first, after cursor ``after``."""
    query = select(rmas.c.id).where(*rma_seen(scope))
    if status is not None:
        query = query.where(rmas.c.status == return_status(status).value)
    if order_id is not None:
        query = query.where(rmas.c.order_id == order_id)
    page = RETURNS.page(conn, query, after=after, limit=limit)
    views = load_returns(conn, [r.id for r in page], scope=scope)
    return page.map(lambda r: views[r.id])
