"""The Python front door for webhooks: subscriptions, their secrets, the delivery log, redelivery.

Each method takes the ``viewer`` it acts for: a caller sees and changes only
its own subscriptions (another's answer as unknown), an administrator or
manager every one. No viewer (the command line) is the database's own
administrator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.errors import NotFound
from stockflow.events import webhook_queries as q
from stockflow.events import webhook_rules, webhooks
from stockflow.events.rules import DeliveryStatus
from stockflow.events.webhooks import Changes, NewSubscription, Redelivery
from stockflow.stock.rules.access import Principal


@dataclass(frozen=True, slots=True)
class WithSecret:
    """A subscription and its new signing secret, shown this once."""

    secret: str
    subscription: q.SubscriptionView


@dataclass(frozen=True, slots=True)
class Redelivered:
    """What a redelivery queued: the events, in stream order."""

    subscription_id: int
    event_ids: tuple[int, ...]


class Webhooks:
    """Webhook subscriptions and their deliveries on one database."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        overlap: timedelta = webhook_rules.DEFAULT_OVERLAP,
    ) -> None:
        self.db = db
        self.clock = clock
        self.overlap = overlap  # how long a rotated-out secret goes on signing

    def subscribe(
        self, owner: str, url: str, event_types: Sequence[str], description: str | None = None
    ) -> WithSecret:
        """A new subscription of user ``owner``; it is told what its owner may see."""
        new = NewSubscription(url, tuple(event_types), description).checked()

        def work(conn: Connection) -> WithSecret:
            now = self.clock()
            principal = webhooks.owner_principal(conn, owner)
            sub_id, secret = webhooks.subscribe(conn, principal, new, now=now)
            return WithSecret(secret, q.subscription_view(conn, sub_id, now=now))

        return self.db.run(work)

    def subscriptions(
        self, *, viewer: Principal | None = None, owner: str | None = None,
        after: str | None = None, limit: int = DEFAULT_PAGE,
    ) -> Page[q.SubscriptionView]:  # fmt: skip
        """A page of the viewer's own subscriptions (an overseer's: everyone's, or ``owner``'s)."""
        with self.db.read() as conn:
            return q.subscription_page(
                conn, owner_id=_own(viewer), owner=owner, after=after, limit=limit,
                now=self.clock(),
            )  # fmt: skip

    def subscription(self, sub_id: int, *, viewer: Principal | None = None) -> q.SubscriptionView:
        """One subscription the viewer may see."""
        with self.db.read() as conn:
            return _visible(conn, sub_id, viewer, self.clock())

    def change(
        self, sub_id: int, changes: Changes, *, viewer: Principal | None = None
    ) -> q.SubscriptionView:
        """Change a subscription's URL, event types, description or status (active, paused).

        The subscription is looked up first: another's is unknown, whatever the changes.
        """

        def work(conn: Connection) -> q.SubscriptionView:
            now = self.clock()
            _visible(conn, sub_id, viewer, now)
            webhooks.change(conn, sub_id, changes.checked(), now=now)
            return q.subscription_view(conn, sub_id, now=now)

        return self.db.run(work)

    def remove(self, sub_id: int, *, viewer: Principal | None = None) -> None:
        """Delete a subscription with its delivery log."""

        def work(conn: Connection) -> None:
            _visible(conn, sub_id, viewer, self.clock())
            webhooks.remove(conn, sub_id)

        self.db.run(work)

    def rotate_secret(self, sub_id: int, *, viewer: Principal | None = None) -> WithSecret:
        """A new secret, shown this once; the old one goes on signing for ``overlap``."""

        def work(conn: Connection) -> WithSecret:
            now = self.clock()
            _visible(conn, sub_id, viewer, now)
            secret = webhooks.rotate(conn, sub_id, now=now, overlap=self.overlap)
            return WithSecret(secret, q.subscription_view(conn, sub_id, now=now))

        return self.db.run(work)

    def deliveries(
        self,
        sub_id: int,
        *,
        status: DeliveryStatus | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
        viewer: Principal | None = None,
    ) -> Page[q.DeliveryView]:
        """A page of the delivery log, newest first, with every try, after cursor ``after``."""
        with self.db.read() as conn:
            _visible(conn, sub_id, viewer, self.clock())
            return q.delivery_page(conn, sub_id, status=status, after=after, limit=limit)

    def redeliver(
        self, sub_id: int, wanted: Redelivery, *, viewer: Principal | None = None
    ) -> Redelivered:
        """Send events again, by hand: one event, or those first queued in a time range."""

        def work(conn: Connection) -> Redelivered:
            now = self.clock()
            sub = _visible(conn, sub_id, viewer, now)
            queued = webhooks.redeliver(conn, sub_id, sub.owner_id, wanted.checked(), now=now)
            return Redelivered(sub_id, tuple(queued))

        return self.db.run(work)


def _own(viewer: Principal | None) -> int | None:
    """Whose subscriptions the viewer sees: its own, or (None) everyone's."""
    if viewer is None or webhook_rules.oversees(viewer):
        return None
    return viewer.user_id if viewer.user_id is not None else -1


def _visible(
    conn: Connection, sub_id: int, viewer: Principal | None, now: datetime
) -> q.SubscriptionView:
    found = q.subscription_view(conn, sub_id, now=now)
    own = _own(viewer)
    if own is not None and found.owner_id != own:
        raise NotFound(f"no webhook subscription {sub_id}", field="subscription_id")
    return found
