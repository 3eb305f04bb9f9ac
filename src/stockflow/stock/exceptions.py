"""The exceptions queue's writes: raise one, resolve an order's, and a person working one off."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import exceptions
from stockflow.errors import NotFound
from stockflow.stock.queries.exceptions import ExceptionView, exception_page
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.events import ExceptionRaised
from stockflow.stock.rules.exceptions import ExceptionKind, ExceptionState, next_exception_state
from stockflow.stock.visibility import exception_condition


def raise_exception(
    conn: Connection, kind: ExceptionKind, message: str, *, now: datetime,
    order_id: str | None = None, sku_id: int | None = None, reference: str | None = None,
) -> None:  # fmt: skip
    """Put a surprise in the one queue customer service and the warehouse both watch.

    An ``exception.raised`` event goes out through the outbox with it.
    """
    record(conn, ExceptionRaised(kind.value, message, order_id, reference), now=now)
    conn.execute(
        exceptions.insert().values(
            kind=kind.value,
            state=ExceptionState.OPEN.value,
            order_id=order_id,
            sku_id=sku_id,
            message=message,
            reference=reference,
            created_at=now,
            updated_at=now,
        )
    )


def resolve_exceptions(
    conn: Connection, order_id: str, kinds: tuple[ExceptionKind, ...], now: datetime
) -> None:
    """Mark an order's open exceptions of these kinds resolved."""
    conn.execute(
        update(exceptions)
        .where(
            exceptions.c.order_id == order_id,
            exceptions.c.kind.in_([k.value for k in kinds]),
            exceptions.c.state != ExceptionState.RESOLVED.value,
        )
        .values(state=ExceptionState.RESOLVED.value, updated_at=now)
    )


def set_exception_state(
    conn: Connection, exception_id: int, state: str, *, now: datetime, scope: Scope = EVERYWHERE
) -> ExceptionView:
    """Move an exception to ``acknowledged`` or ``resolved``; a resolved one stays resolved.

    One the scope does not see is unknown, word for word.
    """
    query = select(exceptions.c.state).where(exceptions.c.id == exception_id)
    seen = exception_condition(scope)
    if seen is not None:
        query = query.where(seen)
    found = conn.execute(query.with_for_update()).first()
    if found is None:
        raise NotFound(f"no exception {exception_id}", field="exception_id")
    target = next_exception_state(exception_id, found.state, state)
    if found.state != target:
        conn.execute(
            update(exceptions)
            .where(exceptions.c.id == exception_id)
            .values(state=target.value, updated_at=now)
        )
    [view] = exception_page(conn, state=None, kind=None, limit=1, exception_id=exception_id)
    return view
