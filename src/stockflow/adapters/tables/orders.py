"""Order management's tables: channels, customers, orders and their lines and decisions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata, one_of

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("max_splits", Integer, nullable=False, server_default="1"),
    Column("allow_partial", Boolean, nullable=False, server_default="0"),
    Column("backorder_policy", String(16), nullable=False, server_default="allow"),
    Column("backorder_days", Integer, nullable=True),
    Column("hold_over_value", Numeric(14, 2), nullable=True),
    Column("hold_new_customers", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    one_of("kind", ("web", "wholesale", "phone", "marketplace", "spreadsheet", "other")),
    one_of("backorder_policy", ("allow", "reject", "allow_days"), name="policy"),
    CheckConstraint("max_splits >= 1", name="max_splits_positive"),
)


channel_locations = Table(
    "channel_locations",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
)


ring_fences = Table(
    "ring_fences",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id"), primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    CheckConstraint("qty >= 0", name="qty_not_negative"),
)


customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=True),
    Column("phone", String(64), nullable=True),
    Column("address", Text, nullable=True),
    Column("latitude", Numeric(9, 6), nullable=True),
    Column("longitude", Numeric(9, 6), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)


orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("external_id", String(128), nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=True),
    Column("ship_to", Text, nullable=True),
    Column("ship_to_latitude", Numeric(9, 6), nullable=True),
    Column("ship_to_longitude", Numeric(9, 6), nullable=True),
    Column("status", String(24), nullable=False),
    Column("hold_reason", Text, nullable=True),
    Column("promise_date", Date, nullable=True),
    Column("value", Numeric(16, 4), nullable=False, server_default="0"),
    Column("reservation_id", String(32), ForeignKey("reservations.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("channel_id", "external_id", name="uq_orders_channel_external"),
    one_of(
        "status",
        (
            "draft",
            "on_hold",
            "allocated",
            "partially_allocated",
            "backordered",
            "released",
            "picking",
            "packed",
            "shipped",
            "delivered",
            "cancelled",
            "closed",
        ),
    ),
)
# Newest first, page by page (GET /orders).
Index("ix_orders_created", orders.c.created_at, orders.c.id)
Index("ix_orders_status_created", orders.c.status, orders.c.created_at)


order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(32), ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("unit_price", Numeric(14, 4), nullable=True),
    Column("cancelled_qty", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint("cancelled_qty >= 0 AND cancelled_qty <= qty", name="cancelled_within_qty"),
)


order_decisions = Table(
    "order_decisions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("message", Text, nullable=False),
)
Index("ix_order_decisions_order", order_decisions.c.order_id)
