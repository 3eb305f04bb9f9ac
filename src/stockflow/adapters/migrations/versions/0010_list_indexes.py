"""list indexes: every list's filters and order served by an index, deep pages as fast as the first

Revision ID: 0010
Revises: 0009

Every list is paged by its key (``adapters/paging.py``): the next page is the
rows after the last one's key, which an index on (filter, key) finds with one
range scan however deep the page. Lists newest first are keyed by (created
at, id); each of their filters gets an index ending in those two columns.
Four indexes grow an id column at their end instead of being added beside
the old ones; the rest are new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (name, table, columns) of each index this revision adds.
_NEW: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_bins_location_sequence", "bins", ("location_id", "sequence", "code")),
    ("ix_positions_location_key", "positions", ("location_id", "sku_id", "bin_id", "lot_code")),
    ("ix_stock_moves_sku_id", "stock_moves", ("sku_id", "id")),
    ("ix_exceptions_state_id", "exceptions", ("state", "id")),
    ("ix_exceptions_kind_id", "exceptions", ("kind", "id")),
    ("ix_exceptions_reference_id", "exceptions", ("reference", "id")),
    ("ix_orders_created", "orders", ("created_at", "id")),
    ("ix_orders_channel_created", "orders", ("channel_id", "created_at", "id")),
    ("ix_purchase_orders_created", "purchase_orders", ("created_at", "id")),
    ("ix_purchase_orders_status_created", "purchase_orders", ("status", "created_at", "id")),
    ("ix_purchase_orders_supplier_created", "purchase_orders", ("supplier_id", "created_at", "id")),
    ("ix_waves_created", "waves", ("created_at", "id")),
    ("ix_waves_location_created", "waves", ("location_id", "created_at", "id")),
    ("ix_waves_status_created", "waves", ("status", "created_at", "id")),
    ("ix_transfers_created", "transfers", ("created_at", "id")),
    ("ix_transfers_status_created", "transfers", ("status", "created_at", "id")),
    ("ix_transfers_from_created", "transfers", ("from_location_id", "created_at", "id")),
    ("ix_transfers_to_created", "transfers", ("to_location_id", "created_at", "id")),
    ("ix_cycle_counts_created", "cycle_counts", ("created_at", "id")),
    ("ix_cycle_counts_location_created", "cycle_counts", ("location_id", "created_at", "id")),
    ("ix_cycle_counts_status_created", "cycle_counts", ("status", "created_at", "id")),
    ("ix_rmas_created", "rmas", ("created_at", "id")),
    ("ix_rmas_status_created", "rmas", ("status", "created_at", "id")),
    ("ix_webhook_subscriptions_owner", "webhook_subscriptions", ("owner_id", "id")),
    (
        "ix_webhook_deliveries_subscription_status",
        "webhook_deliveries",
        ("subscription_id", "status", "created_at", "id"),
    ),
)

# (name, table, columns before, columns after) of each index that grows.
_GROWN: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "ix_orders_status_created",
        "orders",
        ("status", "created_at"),
        ("status", "created_at", "id"),
    ),
    ("ix_rmas_order", "rmas", ("order_id",), ("order_id", "created_at", "id")),
    ("ix_api_tokens_user", "api_tokens", ("user_id",), ("user_id", "id")),
    ("ix_audit_log_actor", "audit_log", ("actor", "at"), ("actor", "at", "id")),
    (
        "ix_webhook_deliveries_subscription_id",
        "webhook_deliveries",
        ("subscription_id", "created_at"),
        ("subscription_id", "created_at", "id"),
    ),
)

# Replaced by ix_positions_location_key, which begins with the same columns.
_OLD_POSITIONS = ("ix_positions_location_sku", "positions", ("location_id", "sku_id"))


def upgrade() -> None:
    for name, table, columns in _NEW:
        op.create_index(name, table, list(columns))
    # Channels as listed: highest priority first, then by code.
    op.create_index("ix_channels_priority_code", "channels", [sa.text("priority DESC"), "code"])
    for name, table, _, after in _GROWN:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, list(after))
    name, table, _ = _OLD_POSITIONS
    op.drop_index(name, table_name=table)


def downgrade() -> None:
    name, table, columns = _OLD_POSITIONS
    op.create_index(name, table, list(columns))
    for name, table, before, _ in reversed(_GROWN):
        op.drop_index(name, table_name=table)
        op.create_index(name, table, list(before))
    op.drop_index("ix_channels_priority_code", table_name="channels")
    for name, table, _ in reversed(_NEW):
        op.drop_index(name, table_name=table)
