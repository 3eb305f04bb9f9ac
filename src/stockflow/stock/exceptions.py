"""The exceptions queue's writes: raise one, resolve an order's, and a person working one off.

Each write records its event (``exception.opened``, ``exception.acknowledged``,
``exception.resolved``) keyed by the exception's id. The event names what the
exception concerns: its order's channel and sites, and the location it
happened at, so that a partner limited to those hears of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import exceptions, locations, skus
from stockflow.errors import NotFound
from stockflow.stock.order_events import OrderScope, order_scopes
from stockflow.stock.queries.exceptions import ExceptionView, exception_page
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.events import (
    ExceptionAcknowledged,
    ExceptionOpened,
    ExceptionResolved,
)
from stockflow.stock.rules.exceptions import ExceptionKind, ExceptionState, next_exception_state
from stockflow.stock.visibility import exception_condition

BY_STOCKFLOW = "stockflow"
"""Who resolves an exception that what happened since has made moot."""


def raise_exception(
    conn: Connection, kind: ExceptionKind, message: str, *, now: datetime,
    order_id: str | None = None, sku_id: int | None = None, reference: str | None = None,
    location_id: int | None = None,
) -> int:  # fmt: skip
    """Put a surprise in the one queue customer service and the warehouse both watch; its id.

    An ``exception.opened`` event goes out through the outbox with it.
    """
    exception_id = conn.execute(
        exceptions.insert()
        .values(
            kind=kind.value, state=ExceptionState.OPEN.value, order_id=order_id, sku_id=sku_id,
            message=message, reference=reference, location_id=location_id, created_at=now,
            updated_at=now,
        )
        .returning(exceptions.c.id)
    ).scalar_one()  # fmt: skip
    sku, location = _codes(conn, sku_id, location_id)
    scope = order_scopes(conn, [order_id]).get(order_id, _NONE) if order_id else _NONE
    opened = ExceptionOpened(
        int(exception_id), kind.value, order_id, reference, location, message=message, sku=sku,
        channel=scope.channel, sites=scope.sites,
    )  # fmt: skip
    record(conn, opened, now=now)
    return int(exception_id)


_NONE = OrderScope("")


def _codes(
    conn: Connection, sku_id: int | None, location_id: int | None
) -> tuple[str | None, str | None]:
    """The SKU's and the location's codes, in one round trip (none when neither is named)."""
    if sku_id is None and location_id is None:
        return None, None
    found = conn.execute(
        select(
            select(skus.c.code).where(skus.c.id == sku_id).scalar_subquery(),
            select(locations.c.code).where(locations.c.id == location_id).scalar_subquery(),
        )
    ).one()
    return found[0], found[1]


def resolve_exceptions(
    conn: Connection, order_id: str, kinds: tuple[ExceptionKind, ...], now: datetime,
    *, resolution: str = "the order moved on",
) -> None:  # fmt: skip
    """Mark an order's open exceptions of these kinds resolved: ``resolution`` says why."""
    _resolve(
        conn,
        (exceptions.c.order_id == order_id) & exceptions.c.kind.in_([k.value for k in kinds]),
        resolution=resolution,
        now=now,
    )


def resolve_about(
    conn: Connection, kind: ExceptionKind, reference: str, now: datetime, *, resolution: str
) -> None:
    """Mark open exceptions of ``kind`` about ``reference`` (and no order) resolved."""
    _resolve(
        conn,
        (exceptions.c.kind == kind.value)
        & (exceptions.c.reference == reference)
        & exceptions.c.order_id.is_(None),
        resolution=resolution,
        now=now,
    )


def _resolve(
    conn: Connection, which: ColumnElement[bool], *, resolution: str, now: datetime
) -> None:
    """Resolve the open exceptions ``which`` picks, each with its ``exception.resolved``."""
    done = conn.execute(
        update(exceptions)
        .where(which, exceptions.c.state != ExceptionState.RESOLVED.value)
        .values(state=ExceptionState.RESOLVED.value, updated_at=now)
        .returning(*_ABOUT)
    ).all()
    if done:
        record(conn, *_resolved(conn, done, resolution, by=BY_STOCKFLOW), now=now)


def _resolved(
    conn: Connection, rows: Sequence[Row[Any]], resolution: str, *, by: str
) -> list[ExceptionResolved]:
    return [
        ExceptionResolved(*about, resolution=resolution, by=by, channel=of.channel, sites=of.sites)
        for about, of in _concerning(conn, rows)
    ]


_ABOUT = (
    exceptions.c.id,
    exceptions.c.kind,
    exceptions.c.order_id,
    exceptions.c.reference,
    exceptions.c.location_id,
)


_About = tuple[int, str, str | None, str | None, str | None]


def _concerning(conn: Connection, rows: Sequence[Row[Any]]) -> list[tuple[_About, OrderScope]]:
    """Each exception row's id, kind, order, reference and location code, and its order's scope."""
    scopes = order_scopes(conn, (r.order_id for r in rows if r.order_id))
    sites = sorted({int(r.location_id) for r in rows if r.location_id is not None})
    codes: dict[int, str] = {}
    if sites:
        found = select(locations.c.id, locations.c.code).where(among(locations.c.id, sites))
        codes = {int(i): code for i, code in conn.execute(found)}
    out: list[tuple[_About, OrderScope]] = []
    for r in sorted(rows, key=lambda r: int(r.id)):
        location = codes.get(r.location_id) if r.location_id is not None else None
        about = (int(r.id), r.kind, r.order_id, r.reference, location)
        out.append((about, scopes.get(r.order_id, _NONE)))
    return out


def set_exception_state(
    conn: Connection, exception_id: int, state: str, *, now: datetime,
    scope: Scope = EVERYWHERE, actor: str = BY_STOCKFLOW,
) -> ExceptionView:  # fmt: skip
    """Move an exception to ``acknowledged`` or ``resolved``; a resolved one stays resolved.

    One the scope does not see is unknown, word for word. ``actor`` is named
    in the event as the person who did it.
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
        row = conn.execute(
            update(exceptions)
            .where(exceptions.c.id == exception_id)
            .values(state=target.value, updated_at=now)
            .returning(*_ABOUT)
        ).one()
        if target is ExceptionState.RESOLVED:
            record(conn, *_resolved(conn, [row], "resolved by hand", by=actor), now=now)
        else:
            [(about, of)] = _concerning(conn, [row])
            seen_by = ExceptionAcknowledged(*about, by=actor, channel=of.channel, sites=of.sites)
            record(conn, seen_by, now=now)
    [view] = exception_page(conn, state=None, kind=None, limit=1, exception_id=exception_id)
    return view
