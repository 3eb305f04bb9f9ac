"""The warehouse floor's tables: waves and pick tasks, shipments, packages, tracking."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata, one_of

waves = Table(
    "waves",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cutoff", UtcDateTime(), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    one_of("status", ("open", "done")),
)
# Waves newest first: all, of one location, of one status.
Index("ix_waves_created", waves.c.created_at, waves.c.id)
Index("ix_waves_location_created", waves.c.location_id, waves.c.created_at, waves.c.id)
Index("ix_waves_status_created", waves.c.status, waves.c.created_at, waves.c.id)


pick_tasks = Table(
    "pick_tasks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("wave_id", String(32), ForeignKey("waves.id"), nullable=False),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("allocation_id", Id, ForeignKey("allocations.id"), nullable=False),
    Column("position_id", Id, ForeignKey("positions.id"), nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("picked_qty", BigInteger, nullable=False, server_default="0"),
    Column("short_qty", BigInteger, nullable=False, server_default="0"),
    Column("tote", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("picked_by", String(64), nullable=True),
    Column("picked_at", UtcDateTime(), nullable=True),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "picked_qty >= 0 AND short_qty >= 0 AND picked_qty + short_qty <= qty", name="done_within"
    ),
    one_of("status", ("open", "picked", "short", "cancelled")),
)
Index("ix_pick_tasks_wave", pick_tasks.c.wave_id)
Index("ix_pick_tasks_order", pick_tasks.c.order_id)


# A shipment's status and each carrier scan of it speak the same words.
SHIPMENT_STATUSES = (
    "packing",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
    "returned",
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("serial", Id, nullable=False, unique=True),  # numbers the tracking number
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("carrier", String(16), nullable=True),
    Column("service", String(32), nullable=True),
    Column("tracking_no", String(64), nullable=True, unique=True),
    Column("amount", Numeric(14, 2), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("shipped_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    one_of("status", SHIPMENT_STATUSES),
)
Index("ix_shipments_order", shipments.c.order_id)


shipment_items = Table(
    "shipment_items",
    metadata,
    Column("shipment_id", String(32), ForeignKey("shipments.id"), primary_key=True),
    Column("order_line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
)


packages = Table(
    "packages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "weight_g > 0 AND length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="positive"
    ),
)
Index("ix_packages_shipment", packages.c.shipment_id)


tracking_events = Table(
    "tracking_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("note", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    one_of("status", SHIPMENT_STATUSES),
)
Index("ix_tracking_events_shipment", tracking_events.c.shipment_id)
