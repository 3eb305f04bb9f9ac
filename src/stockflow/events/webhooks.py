"""Webhook subscriptions: who is told of which events, and the deliveries queued for them.

``fan_out`` runs inside the relay's transaction that gives events their
place in the stream: each subscription (active or paused) whose event types
match an event and whose owner may see it now gets one pending delivery of
it. Whether the owner may see it is decided here, with the owner's role and
scope as they are at that moment: a partner's endpoint is told only of what
its user could read through the API, and a stopped owner's of nothing.

One aggregate's deliveries to a subscription go one at a time, in stream
order: only the first pending one (its head) has a next try time; the ones
behind it are queued with none and ``wake`` gives the next one its time
when the head is finished. ``wake_stranded`` does the same for any
aggregate left with no head (a redelivery queued while its head finished in
another transaction); the dispatcher runs it now and then.

The other functions are the subscriptions' use cases; each runs in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, insert, or_, select, update

from stockflow.adapters.tables import (
    users,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)
from stockflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from stockflow.events import webhook_rules
from stockflow.events.rules import (
    DeliveryStatus,
    Envelope,
    SubscriptionStatus,
    matches,
    visible_to,
)
from stockflow.events.webhook_queries import envelopes
from stockflow.stock.principals import active_principals
from stockflow.stock.rules.access import Action, Permission, Principal, Resource

_OWNS_WEBHOOKS = Permission(Resource.WEBHOOKS, Action.WRITE)
MAX_REDELIVERY = 10_000  # deliveries one redelivery may queue; a wider range is refused
_PENDING = str(DeliveryStatus.PENDING)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscription as fan-out needs it: its patterns and its owner as the owner is now."""

    id: int
    patterns: tuple[str, ...]
    owner: Principal


def subscribers(conn: Connection) -> list[Subscriber]:
    """Every subscription that receives events (active or paused) of an owner still active."""
    s = webhook_subscriptions.c
    rows = conn.execute(
        select(s.id, s.event_types, s.owner_id)
        .where(s.status.in_([str(SubscriptionStatus.ACTIVE), str(SubscriptionStatus.PAUSED)]))
        .order_by(s.id)
    ).all()
    owners = active_principals(conn, {r.owner_id for r in rows})
    return [
        Subscriber(r.id, tuple(r.event_types), owners[r.owner_id])
        for r in rows
        if r.owner_id in owners
    ]


def aggregate_of(envelope: Envelope) -> str | None:
    """The ordering key of an event's deliveries: ``"order:SO-1"``; None for no aggregate."""
    if envelope.aggregate is None:
        return None
    return f"{envelope.aggregate}:{envelope.key}"


def fan_out(conn: Connection, envelopes: Sequence[Envelope], now: datetime) -> int:
    """Queue one pending delivery per event and subscription that may see it; how many."""
    if not envelopes:
        return 0
    rows = [
        {
            "subscription_id": sub.id,
            "event_id": e.id,
            "sequence": e.sequence,
            "aggregate": aggregate_of(e),
            "status": str(DeliveryStatus.PENDING),
            "attempts": 0,
            "next_attempt_at": _queued_at(e, now),
            "manual": False,
            "created_at": now,
        }
        for sub in subscribers(conn)
        for e in envelopes
        if matches(sub.patterns, e.topic) and visible_to(sub.owner, e)
    ]
    _queue(conn, rows, now)
    return len(rows)


Key = tuple[int, str]  # (subscription id, aggregate): deliveries that go one at a time


def _queued_at(e: Envelope, now: datetime) -> datetime | None:
    """A new delivery's first try time: now, or none until ``wake`` finds it first in line."""
    return now if e.aggregate is None else None


def _queue(conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    if not rows:
        return
    conn.execute(insert(webhook_deliveries), rows)
    keys: set[Key] = {
        (r["subscription_id"], r["aggregate"]) for r in rows if r["aggregate"] is not None
    }
    wake(conn, keys, now)


def wake(conn: Connection, keys: set[Key], now: datetime) -> None:
    """Give each aggregate's first pending delivery its try time, if it has none yet."""
    if not keys:
        return
    d, head = webhook_deliveries.c, webhook_deliveries.alias("head")
    first = (
        select(head.c.id)
        .where(
            head.c.subscription_id == bindparam("k_sub"),
            head.c.aggregate == bindparam("k_aggregate"),
            head.c.status == _PENDING,
        )
        .order_by(head.c.sequence, head.c.id)
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(
        update(webhook_deliveries)
        .where(d.id == first, d.next_attempt_at.is_(None))
        .values(next_attempt_at=now),
        [{"k_sub": sub, "k_aggregate": aggregate} for sub, aggregate in sorted(keys)],
    )


def wake_stranded(conn: Connection, now: datetime) -> int:
    """Give a try time to every aggregate's first pending delivery left without one; how many."""
    d, other = webhook_deliveries.c, webhook_deliveries.alias("other")
    o = other.c
    ahead = exists().where(
        o.subscription_id == d.subscription_id,
        o.aggregate == d.aggregate,
        o.status == _PENDING,
        or_(
            o.next_attempt_at.is_not(None),
            o.sequence < d.sequence,
            and_(o.sequence == d.sequence, o.id < d.id),
        ),
    )
    found = conn.execute(
        update(webhook_deliveries)
        .where(d.status == _PENDING, d.next_attempt_at.is_(None), ~ahead)
        .values(next_attempt_at=now)
    )
    return found.rowcount


# --- subscriptions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription to make."""

    url: str
    event_types: tuple[str, ...]
    description: str | None = None

    def checked(self) -> NewSubscription:
        """This subscription, or the reason (naming the field) it cannot be made."""
        return NewSubscription(
            webhook_rules.endpoint(self.url),
            webhook_rules.event_types(self.event_types),
            webhook_rules.description(self.description),
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """What to change of a subscription; None leaves a field as it is."""

    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    clear_description: bool = False
    status: SubscriptionStatus | None = None

    def checked(self) -> Changes:
        """These changes, or the reason (naming the field) they cannot be made."""
        if self.status is SubscriptionStatus.DISABLED:
            raise InvalidInput("may be set to active or paused", field="status")
        return Changes(
            webhook_rules.endpoint(self.url) if self.url is not None else None,
            webhook_rules.event_types(self.event_types) if self.event_types is not None else None,
            webhook_rules.description(self.description),
            self.clear_description,
            self.status,
        )


def owner_principal(conn: Connection, name: str) -> Principal:
    """The active user ``name`` as a subscription's owner: its role must let it own webhooks."""
    user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if user_id is None:
        raise NotFound(f"no user {name!r}", field="user")
    owner = active_principals(conn, [user_id]).get(user_id)
    if owner is None:
        raise Conflict(f"user {name!r} is stopped", field="user")
    if not owner.may(_OWNS_WEBHOOKS):
        raise Forbidden(f"the {owner.role} role may not own webhook subscriptions", field="user")
    return owner


def subscribe(
    conn: Connection, owner: Principal, new: NewSubscription, *, now: datetime
) -> tuple[int, str]:
    """Make a subscription (checked) owned by ``owner``; its id and its first secret."""
    sub_id = conn.execute(
        insert(webhook_subscriptions).returning(webhook_subscriptions.c.id),
        {
            "url": new.url,
            "description": new.description,
            "event_types": list(new.event_types),
            "owner_id": owner.user_id,
            "status": str(SubscriptionStatus.ACTIVE),
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    return sub_id, _new_secret(conn, sub_id, now)


def _new_secret(conn: Connection, sub_id: int, now: datetime) -> str:
    secret = webhook_rules.new_secret()
    conn.execute(
        insert(webhook_secrets),
        {"subscription_id": sub_id, "secret": secret, "created_at": now, "expires_at": None},
    )
    return secret


def change(conn: Connection, sub_id: int, changes: Changes, *, now: datetime) -> None:
    """Change a subscription (checked); setting it active again clears why it was disabled."""
    values: dict[str, object] = {"updated_at": now}
    if changes.url is not None:
        values["url"] = changes.url
    if changes.event_types is not None:
        values["event_types"] = list(changes.event_types)
    if changes.description is not None or changes.clear_description:
        values["description"] = changes.description
    if changes.status is not None:
        values["status"] = str(changes.status)
        values["disabled_reason"] = None
    conn.execute(
        update(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id).values(values)
    )


def remove(conn: Connection, sub_id: int) -> None:
    """Delete a subscription, its secrets, its deliveries and their tries."""
    conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id))


def rotate(conn: Connection, sub_id: int, *, now: datetime, overlap: timedelta) -> str:
    """A new secret; the one in force goes on signing for ``overlap``, older ones stop now."""
    s = webhook_secrets.c
    conn.execute(delete(webhook_secrets).where(s.subscription_id == sub_id, s.expires_at <= now))
    conn.execute(
        update(webhook_secrets)
        .where(
            s.subscription_id == sub_id, or_(s.expires_at.is_(None), s.expires_at > now + overlap)
        )
        .values(expires_at=now + overlap)
    )
    return _new_secret(conn, sub_id, now)


def disable(conn: Connection, sub_ids: Sequence[int], reason: str, *, now: datetime) -> None:
    """Stop subscriptions (their receiver said 410 Gone): pending deliveries are cancelled."""
    if not sub_ids:
        return
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.id.in_(sub_ids))
        .values(
            status=str(SubscriptionStatus.DISABLED), disabled_reason=reason[:255], updated_at=now
        )
    )
    d = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(d.subscription_id.in_(sub_ids), d.status == str(DeliveryStatus.PENDING))
        .values(status=str(DeliveryStatus.CANCELLED), finished_at=now)
    )


# --- redelivery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redelivery:
    """Which events to send again: one, or those first queued in a time range."""

    event_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def checked(self) -> Redelivery:
        """This request, or the reason it cannot be done."""
        ranged = self.since is not None or self.until is not None
        if (self.event_id is None) == (not ranged):
            raise InvalidInput("give either event_id or since (and until)", field="event_id")
        if ranged and self.since is None:
            raise InvalidInput("a range needs its start", field="since")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidInput("must be after since", field="until")
        return self


def redeliver(
    conn: Connection, sub_id: int, owner_id: int, wanted: Redelivery, *, now: datetime
) -> list[int]:
    """Queue the events again, by hand, even those delivered; the ids of the events queued.

    Only events this subscription was queued before can be sent again, and
    only while the outbox still keeps them and its owner may still see them.
    """
    event_ids = _events_queued(conn, sub_id, wanted)
    kept = envelopes(conn, event_ids)
    pruned = [e for e in event_ids if e not in kept]
    if pruned:
        shown = ", ".join(str(e) for e in pruned[:20]) + (" ..." if len(pruned) > 20 else "")
        raise Conflict(
            f"events no longer kept, so they cannot be sent again: {shown}",
            field="event_id" if wanted.event_id is not None else "since",
        )
    owner = active_principals(conn, [owner_id]).get(owner_id)
    if owner is None:
        raise Conflict("the subscription's owner is stopped", field="subscription_id")
    chosen = [kept[e] for e in event_ids if visible_to(owner, kept[e])]
    _queue(conn, [_manual_row(sub_id, e, now) for e in chosen], now)
    return [e.id for e in chosen]


def _events_queued(conn: Connection, sub_id: int, wanted: Redelivery) -> list[int]:
    d = webhook_deliveries.c
    query = select(d.event_id).where(d.subscription_id == sub_id).distinct()
    if wanted.event_id is not None:
        query = query.where(d.event_id == wanted.event_id)
    else:
        query = query.where(d.created_at >= wanted.since)
        if wanted.until is not None:
            query = query.where(d.created_at < wanted.until)
    found = sorted(conn.execute(query.limit(MAX_REDELIVERY + 1)).scalars())
    if wanted.event_id is not None and not found:
        raise NotFound(
            f"event {wanted.event_id} was never queued for this subscription", field="event_id"
        )
    if len(found) > MAX_REDELIVERY:
        raise InvalidInput(
            f"more than {MAX_REDELIVERY} events in the range; narrow it", field="until"
        )
    return found


def _manual_row(sub_id: int, e: Envelope, now: datetime) -> dict[str, object]:
    return {
        "subscription_id": sub_id,
        "event_id": e.id,
        "sequence": e.sequence,
        "aggregate": aggregate_of(e),
        "status": str(DeliveryStatus.PENDING),
        "attempts": 0,
        "next_attempt_at": _queued_at(e, now),
        "manual": True,
        "created_at": now,
    }
