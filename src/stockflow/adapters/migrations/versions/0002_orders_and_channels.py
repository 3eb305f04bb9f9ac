"""orders, channels, customers, exceptions, incoming supply

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_splits", sa.Integer(), server_default="1", nullable=False),
        sa.Column("allow_partial", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("backorder_policy", sa.String(length=16), server_default="allow", nullable=False),
        sa.Column("backorder_days", sa.Integer(), nullable=True),
        sa.Column("hold_over_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("hold_new_customers", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "backorder_policy IN ('allow', 'reject', 'allow_days')", name=op.f("ck_channels_policy")
        ),
        sa.CheckConstraint(
            "kind IN ('web', 'wholesale', 'phone', 'marketplace', 'spreadsheet', 'other')",
            name=op.f("ck_channels_kind"),
        ),
        sa.CheckConstraint("max_splits >= 1", name=op.f("ck_channels_max_splits_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("code", name=op.f("uq_channels_code")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_code")),
    )
    op.create_table(
        "channel_locations",
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_locations_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_channel_locations_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("channel_id", "location_id", name=op.f("pk_channel_locations")),
    )
    op.create_table(
        "incoming_supply",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("received_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('purchase', 'transfer')", name=op.f("ck_incoming_supply_kind")
        ),
        sa.CheckConstraint(
            "qty > 0 AND received_qty >= 0 AND received_qty <= qty",
            name=op.f("ck_incoming_supply_qty_range"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_incoming_supply_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_incoming_supply_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming_supply")),
    )
    with op.batch_alter_table("incoming_supply", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incoming_supply_sku_date", ["sku_id", "expected_on"], unique=False
        )

    op.create_table(
        "kit_components",
        sa.Column(
            "kit_sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "component_sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kit_sku_id <> component_sku_id", name=op.f("ck_kit_components_not_itself")
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_kit_components_qty_positive")),
        sa.ForeignKeyConstraint(
            ["component_sku_id"], ["skus.id"], name=op.f("fk_kit_components_component_sku_id_skus")
        ),
        sa.ForeignKeyConstraint(
            ["kit_sku_id"], ["skus.id"], name=op.f("fk_kit_components_kit_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("kit_sku_id", "component_sku_id", name=op.f("pk_kit_components")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ship_to", sa.Text(), nullable=True),
        sa.Column("ship_to_latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("ship_to_longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("value", sa.Numeric(precision=16, scale=4), server_default="0", nullable=False),
        sa.Column("reservation_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_orders_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_orders_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("channel_id", "external_id", name="uq_orders_channel_external"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_orders_idempotency_key")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "ring_fences",
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty >= 0", name=op.f("ck_ring_fences_qty_not_negative")),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_ring_fences_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_ring_fences_location_id_locations")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_ring_fences_sku_id_skus")),
        sa.PrimaryKeyConstraint("channel_id", "sku_id", "location_id", name=op.f("pk_ring_fences")),
    )
    op.create_table(
        "exceptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_exceptions_state")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_exceptions_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_exceptions_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptions")),
    )
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.create_index("ix_exceptions_order", ["order_id"], unique=False)
        batch_op.create_index("ix_exceptions_state_kind", ["state", "kind"], unique=False)

    op.create_table(
        "order_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_decisions_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_decisions")),
    )
    with op.batch_alter_table("order_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_order_decisions_order", ["order_id"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("cancelled_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "cancelled_qty >= 0 AND cancelled_qty <= qty",
            name=op.f("ck_order_lines_cancelled_within_qty"),
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_order_lines_qty_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_order_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )


def downgrade() -> None:
    op.drop_table("order_lines")
    with op.batch_alter_table("order_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_order_decisions_order")

    op.drop_table("order_decisions")
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_exceptions_state_kind")
        batch_op.drop_index("ix_exceptions_order")

    op.drop_table("exceptions")
    op.drop_table("ring_fences")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_created")

    op.drop_table("orders")
    op.drop_table("kit_components")
    with op.batch_alter_table("incoming_supply", schema=None) as batch_op:
        batch_op.drop_index("ix_incoming_supply_sku_date")

    op.drop_table("incoming_supply")
    op.drop_table("channel_locations")
    op.drop_table("customers")
    op.drop_table("channels")
