"""Reading webhook subscriptions and their delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, or_, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.tables import (
    outbox,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)
from stockflow.errors import NotFound
from stockflow.events.rules import DeliveryStatus, Envelope, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription as its owner sees it: never its secret."""

    id: int
    url: str
    description: str | None
    event_types: tuple[str, ...]
    owner: str
    owner_id: int
    status: SubscriptionStatus
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    old_secret_until: datetime | None  # while rotating: when the old secret stops signing


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One try of a delivery."""

    attempted_at: datetime
    http_status: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One event's delivery to one subscription, with its tries."""

    id: int
    event_id: int
    topic: str | None  # None once the event is no longer kept
    sequence: int
    aggregate: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None  # None: waits for an earlier event of its aggregate
    manual: bool
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    tries: tuple[AttemptView, ...] = field(default=())


SUBSCRIPTIONS = Keyset("webhooks", webhook_subscriptions.c.id)
DELIVERIES = Keyset(
    "deliveries",
    Key(webhook_deliveries.c.created_at, descending=True),
    Key(webhook_deliveries.c.id, descending=True),
)


def _subscriptions_query() -> Select[Any]:
    return select(webhook_subscriptions, users.c.name.label("owner")).join(
        users, users.c.id == webhook_subscriptions.c.owner_id
    )


def subscription_page(
    conn: Connection,
    *,
    owner_id: int | None = None,
    owner: str | None = None,
    after: str | None = None,
    limit: int,
    now: datetime,
) -> Page[SubscriptionView]:
    """Subscriptions (of the owner with that id and/or name, or all), oldest first."""
    query = _subscriptions_query()
    if owner_id is not None:
        query = query.where(webhook_subscriptions.c.owner_id == owner_id)
    if owner is not None:
        query = query.where(
            webhook_subscriptions.c.owner_id
            == select(users.c.id).where(users.c.name == owner).scalar_subquery()
        )
    page = SUBSCRIPTIONS.page(conn, query, after=after, limit=limit)
    rotating = _rotating(conn, [r.id for r in page], now)
    return page.map(lambda r: _subscription_view(r, rotating.get(r.id)))


def _subscription_view(r: Row[tuple[object, ...]], old_until: datetime | None) -> SubscriptionView:
    m = r._mapping
    return SubscriptionView(
        id=m["id"], url=m["url"], description=m["description"],
        event_types=tuple(m["event_types"]), owner=m["owner"], owner_id=m["owner_id"],
        status=SubscriptionStatus(m["status"]), disabled_reason=m["disabled_reason"],
        created_at=m["created_at"], updated_at=m["updated_at"], old_secret_until=old_until,
    )  # fmt: skip


def _rotating(conn: Connection, ids: list[int], now: datetime) -> dict[int, datetime]:
    if not ids:
        return {}
    rows = conn.execute(
        select(webhook_secrets.c.subscription_id, webhook_secrets.c.expires_at).where(
            webhook_secrets.c.subscription_id.in_(ids), webhook_secrets.c.expires_at > now
        )
    )
    found: dict[int, datetime] = {}
    for sub_id, until in rows:
        found[sub_id] = max(until, found.get(sub_id, until))
    return found


def subscription_view(conn: Connection, subscription_id: int, *, now: datetime) -> SubscriptionView:
    """One subscription; NotFound naming it otherwise."""
    row = conn.execute(
        _subscriptions_query().where(webhook_subscriptions.c.id == subscription_id)
    ).first()
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}", field="subscription_id")
    return _subscription_view(row, _rotating(conn, [row.id], now).get(row.id))


def signing_secrets(
    conn: Connection, subscription_ids: Sequence[int], now: datetime
) -> dict[int, list[str]]:
    """Each subscription's secrets in force, newest first: the current, the old while rotating."""
    found: dict[int, list[str]] = {}
    if not subscription_ids:
        return found
    rows = conn.execute(
        select(webhook_secrets.c.subscription_id, webhook_secrets.c.secret)
        .where(
            webhook_secrets.c.subscription_id.in_(sorted(set(subscription_ids))),
            or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > now),
        )
        .order_by(webhook_secrets.c.subscription_id, webhook_secrets.c.id.desc())
    )
    for sub_id, secret in rows:
        found.setdefault(sub_id, []).append(secret)
    return found


def envelope_of(row: Row[tuple[object, ...]]) -> Envelope:
    """An outbox row (selected with its columns by name) as the envelope sent out."""
    m = row._mapping
    return Envelope(
        id=m["id"], topic=m["topic"], version=m["version"], sequence=m["sequence"],
        aggregate=m["aggregate"], key=m["key"], aggregate_sequence=m["aggregate_sequence"],
        created_at=m["created_at"], payload=m["payload"], scope=m["scope"],
    )  # fmt: skip


def envelopes(conn: Connection, event_ids: Sequence[int]) -> dict[int, Envelope]:
    """The events still kept in the outbox, by id, as sent out."""
    if not event_ids:
        return {}
    rows = conn.execute(select(outbox).where(outbox.c.id.in_(sorted(set(event_ids)))))
    return {r.id: envelope_of(r) for r in rows}


def delivery_page(
    conn: Connection,
    subscription_id: int,
    *,
    status: DeliveryStatus | None = None,
    after: str | None = None,
    limit: int,
) -> Page[DeliveryView]:
    """A subscription's deliveries, newest first, each with its tries (oldest first)."""
    d = webhook_deliveries.c
    query = (
        select(webhook_deliveries, outbox.c.topic)
        .outerjoin(outbox, outbox.c.id == d.event_id)
        .where(d.subscription_id == subscription_id)
    )
    if status is not None:
        query = query.where(d.status == str(status))
    page = DELIVERIES.page(conn, query, after=after, limit=limit)
    tries = _tries(conn, [r.id for r in page])
    return page.map(lambda r: _delivery_view(r, tries.get(r.id, ())))


def _delivery_view(r: Row[tuple[object, ...]], tries: Sequence[AttemptView]) -> DeliveryView:
    m = r._mapping
    return DeliveryView(
        id=m["id"], event_id=m["event_id"], topic=m["topic"], sequence=m["sequence"],
        aggregate=m["aggregate"], status=DeliveryStatus(m["status"]), attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"], manual=m["manual"], last_status=m["last_status"],
        last_error=m["last_error"], created_at=m["created_at"], finished_at=m["finished_at"],
        tries=tuple(tries),
    )  # fmt: skip


def _tries(conn: Connection, delivery_ids: list[int]) -> dict[int, list[AttemptView]]:
    found: dict[int, list[AttemptView]] = {}
    if not delivery_ids:
        return found
    a = webhook_attempts.c
    rows = conn.execute(
        select(a.delivery_id, a.attempted_at, a.http_status, a.error, a.duration_ms)
        .where(a.delivery_id.in_(delivery_ids))
        .order_by(a.delivery_id, a.id)
    )
    for delivery_id, at, status, error, ms in rows:
        found.setdefault(delivery_id, []).append(AttemptView(at, status, error, ms))
    return found
