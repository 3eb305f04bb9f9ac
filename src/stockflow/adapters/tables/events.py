"""Events out: the outbox, the relay's bookkeeping, webhook subscriptions and their deliveries.

A change writes its events to the outbox in its own transaction. The one
active relay then gives each committed row its place in the stream
(``sequence``, and ``aggregate_sequence`` within its aggregate), queues a
delivery for every webhook subscription that may see it, publishes it to the
message broker, and marks it published; rows are pruned after the retention.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata, one_of

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("topic", String(64), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),  # the payload's shape
    Column("key", String(128), nullable=True),  # the aggregate's id: an order id, "SKU@LOC"...
    Column("aggregate", String(32), nullable=True),  # what kind of thing ``key`` names
    Column("scope", JSON, nullable=True),  # the locations, channels, suppliers it concerns
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Set by the relay, in commit order: the stream's position, and the aggregate's own count.
    Column("sequence", BigInteger, nullable=True, unique=True),
    Column("aggregate_sequence", BigInteger, nullable=True),
    Column("published_at", UtcDateTime(), nullable=True),
)
# Only rows still on their way are in these: they stay small however long the history.
Index(
    "ix_outbox_unnumbered",
    outbox.c.id,
    postgresql_where=outbox.c.sequence.is_(None) & outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.sequence.is_(None) & outbox.c.published_at.is_(None),
)
Index(
    "ix_outbox_unpublished",
    outbox.c.sequence,
    postgresql_where=outbox.c.sequence.is_not(None) & outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.sequence.is_not(None) & outbox.c.published_at.is_(None),
)
Index("ix_outbox_published_at", outbox.c.published_at)

# The last sequence the relay gave each aggregate.
event_aggregates = Table(
    "event_aggregates",
    metadata,
    Column("aggregate", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
)

# Who runs the relay now, where no advisory lock exists (SQLite): a lease renewed as it works.
relay_leases = Table(
    "relay_leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

SUBSCRIPTION_STATUSES = ("active", "paused", "disabled")

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("description", String(255), nullable=True),
    Column("event_types", JSON, nullable=False),  # topics or "order.*" / "*" patterns
    Column("owner_id", Id, ForeignKey("users.id"), nullable=False),  # sees what its owner may
    Column("status", String(16), nullable=False, server_default=text("'active'")),
    Column("disabled_reason", String(255), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    one_of("status", SUBSCRIPTION_STATUSES),
)
Index(
    "ix_webhook_subscriptions_owner", webhook_subscriptions.c.owner_id, webhook_subscriptions.c.id
)

# Signing secrets: during a rotation the old one signs too, until it expires.
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "subscription_id",
        Id,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("secret", String(128), nullable=False),  # whsec_ + base64
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),  # None: current
)
Index("ix_webhook_secrets_subscription_id", webhook_secrets.c.subscription_id)

DELIVERY_STATUSES = ("pending", "delivered", "dead", "cancelled")

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "subscription_id",
        Id,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", BigInteger, nullable=False),  # the outbox id, also the webhook-id
    Column("sequence", BigInteger, nullable=False),  # delivery order
    Column("aggregate", String(170), nullable=True),  # "order:SO-1": one at a time per aggregate
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # None: waits behind an earlier pending delivery of its aggregate (only the first has a time)
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("manual", Boolean, nullable=False, server_default=text("false")),  # redelivered by hand
    Column("last_status", Integer, nullable=True),  # the receiver's HTTP status
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),  # delivered, dead or cancelled
    one_of("status", DELIVERY_STATUSES),
)
# Pending deliveries only: an aggregate's earlier ones hold its later ones back...
Index(
    "ix_webhook_deliveries_pending",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.aggregate,
    webhook_deliveries.c.sequence,
    webhook_deliveries.c.id,
    postgresql_where=webhook_deliveries.c.status == "pending",
    sqlite_where=webhook_deliveries.c.status == "pending",
)
# ...and the dispatcher looks for those whose time has come, oldest first.
Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.id,
    postgresql_where=webhook_deliveries.c.status == "pending",
    sqlite_where=webhook_deliveries.c.status == "pending",
)
# The delivery log newest first, all or of one status (dead letters).
Index(
    "ix_webhook_deliveries_subscription_id",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.id,
)
Index(
    "ix_webhook_deliveries_subscription_status",
    webhook_deliveries.c.subscription_id,
    webhook_deliveries.c.status,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.id,
)
Index("ix_webhook_deliveries_event_id", webhook_deliveries.c.event_id)

# Every try of a delivery: the delivery log a subscriber's owner reads.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column(
        "delivery_id",
        Id,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", UtcDateTime(), nullable=False),
    Column("http_status", Integer, nullable=True),  # None: no answer (refused, timed out)
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)
Index("ix_webhook_attempts_delivery_id", webhook_attempts.c.delivery_id)
