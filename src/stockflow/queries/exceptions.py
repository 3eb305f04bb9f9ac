"""The exceptions queue both sides of the business see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.tables import exceptions, skus
from stockflow.domain.errors import InvalidInput, NotFound

STATES = ("open", "acknowledged", "resolved")


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


def exception_page(
    conn: Connection, *, state: str | None, kind: str | None, limit: int
) -> list[ExceptionView]:
    """Exceptions, newest first, optionally of one state and kind."""
    query = (
        select(exceptions, skus.c.code.label("sku"))
        .outerjoin(skus, skus.c.id == exceptions.c.sku_id)
        .order_by(exceptions.c.id.desc())
        .limit(limit)
    )
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"use one of: {', '.join(STATES)}", field="state")
        query = query.where(exceptions.c.state == state)
    if kind is not None:
        query = query.where(exceptions.c.kind == kind)
    return [
        ExceptionView(
            r.id, r.kind, r.state, r.order_id, r.sku, r.message, r.created_at, r.updated_at
        )
        for r in conn.execute(query)
    ]


def set_exception_state(
    conn: Connection, exception_id: int, state: str, *, now: datetime
) -> ExceptionView:
    """Move an exception to ``acknowledged`` or ``resolved``."""
    if state not in STATES[1:]:
        raise InvalidInput("use acknowledged or resolved", field="state")
    done = conn.execute(
        update(exceptions)
        .where(exceptions.c.id == exception_id)
        .values(state=state, updated_at=now)
        .returning(exceptions.c.id)
    ).first()
    if done is None:
        raise NotFound(f"no exception {exception_id}", field="exception_id")
    [view] = [
        v
        for v in exception_page(conn, state=None, kind=None, limit=1_000_000)
        if v.id == exception_id
    ]
    return view
