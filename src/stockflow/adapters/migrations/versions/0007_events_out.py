"""events out: the stream's order, the relay's lease, webhook subscriptions and deliveries

Revision ID: 0007
Revises: 0006

Outbox rows gain what a subscriber needs (the aggregate's kind, the scope an
event concerns) and what the relay assigns (the stream's sequence, the
aggregate's sequence). Rows written before this revision were never sent and
carry no scope: they are marked published, so no subscriber receives them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("aggregate", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("aggregate_sequence", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint("uq_outbox_sequence", ["sequence"])
        batch_op.drop_index("ix_outbox_unpublished")
    op.execute("UPDATE outbox SET published_at = created_at WHERE published_at IS NULL")
    op.create_index(
        "ix_outbox_unnumbered",
        "outbox",
        ["id"],
        postgresql_where=sa.text("sequence IS NULL AND published_at IS NULL"),
        sqlite_where=sa.text("sequence IS NULL AND published_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["sequence"],
        postgresql_where=sa.text("sequence IS NOT NULL AND published_at IS NULL"),
        sqlite_where=sa.text("sequence IS NOT NULL AND published_at IS NULL"),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.create_table(
        "event_aggregates",
        sa.Column("aggregate", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("aggregate", "key", name="pk_event_aggregates"),
    )
    op.create_table(
        "relay_leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_relay_leases"),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("owner_id", _ID, nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'active'"), nullable=False
        ),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused', 'disabled')", name="status"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_webhook_subscriptions_owner_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name="fk_webhook_secrets_subscription_id_webhook_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_secrets"),
    )
    op.create_index("ix_webhook_secrets_subscription_id", "webhook_secrets", ["subscription_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("aggregate", sa.String(length=170), nullable=True),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("manual", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead', 'cancelled')",
            name="status",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name="fk_webhook_deliveries_subscription_id_webhook_subscriptions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["subscription_id", "aggregate", "sequence", "id"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_id",
        "webhook_deliveries",
        ["subscription_id", "created_at"],
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("delivery_id", _ID, nullable=False),
        sa.Column("attempted_at", _AT, nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
    op.drop_table("webhook_subscriptions")
    op.drop_table("relay_leases")
    op.drop_table("event_aggregates")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_index("ix_outbox_unnumbered", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_sequence", type_="unique")
        batch_op.drop_column("aggregate_sequence")
        batch_op.drop_column("sequence")
        batch_op.drop_column("scope")
        batch_op.drop_column("aggregate")
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"])
