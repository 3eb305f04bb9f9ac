"""The exceptions queue both sides of the business see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import exceptions, skus
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.exceptions import exception_state
from stockflow.stock.visibility import exception_condition


@dataclass(frozen=True, slots=True)
class ExceptionView:
    """Something a person should look at."""

    id: int
    kind: str
    state: str
    order_id: str | None
    sku: str | None
    message: str
    created_at: datetime
    updated_at: datetime
    reference: str | None = None  # the receipt, wave, count or shipment it is about


EXCEPTIONS = Keyset("exceptions", Key(exceptions.c.id, descending=True))


def exception_page(
    conn: Connection,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int,
    after: str | None = None,
    exception_id: int | None = None,
    reference: str | None = None,
    scope: Scope = EVERYWHERE,
) -> Page[ExceptionView]:
    """Exceptions the scope sees, newest first, maybe of one state, kind or reference."""
    query = select(exceptions, skus.c.code.label("sku")).outerjoin(
        skus, skus.c.id == exceptions.c.sku_id
    )
    if state is not None:
        query = query.where(exceptions.c.state == exception_state(state).value)
    if kind is not None:
        query = query.where(exceptions.c.kind == kind)
    if reference is not None:
        query = query.where(exceptions.c.reference == reference)
    if exception_id is not None:
        query = query.where(exceptions.c.id == exception_id)
    seen = exception_condition(scope)
    if seen is not None:
        query = query.where(seen)
    return EXCEPTIONS.page(conn, query, after=after, limit=limit).map(
        lambda r: ExceptionView(
            r.id,
            r.kind,
            r.state,
            r.order_id,
            r.sku,
            r.message,
            r.created_at,
            r.updated_at,
            r.reference,
        )
    )
