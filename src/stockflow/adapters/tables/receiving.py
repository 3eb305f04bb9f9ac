"""Receiving's tables: suppliers, purchase orders, advance shipping notices, receipts, home bins."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from stockflow.adapters.tables.base import NO_LOT, Id, UtcDateTime, metadata, one_of

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("lead_time_days", Integer, nullable=False, server_default="7"),
    Column("email", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
)


purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("supplier_id", Id, ForeignKey("suppliers.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("expected_on", Date, nullable=False),
    Column("reference", String(128), nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    one_of("status", ("open", "partially_received", "received", "closed", "cancelled")),
)
# Newest first, page by page, maybe of one status or supplier (GET /purchase-orders).
Index("ix_purchase_orders_created", purchase_orders.c.created_at, purchase_orders.c.id)
Index(
    "ix_purchase_orders_status_created",
    purchase_orders.c.status,
    purchase_orders.c.created_at,
    purchase_orders.c.id,
)
Index(
    "ix_purchase_orders_supplier_created",
    purchase_orders.c.supplier_id,
    purchase_orders.c.created_at,
    purchase_orders.c.id,
)


asns = Table(
    "asns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("po_id", String(32), ForeignKey("purchase_orders.id"), nullable=False),
    Column("reference", String(128), nullable=True),
    Column("expected_on", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


asn_lines = Table(
    "asn_lines",
    metadata,
    Column("asn_id", String(32), ForeignKey("asns.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("po_line_no", Integer, nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=NO_LOT),
    CheckConstraint("qty > 0", name="qty_positive"),
)


receipts = Table(
    "receipts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("po_id", String(32), ForeignKey("purchase_orders.id"), nullable=True),
    Column("asn_id", String(32), ForeignKey("asns.id"), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("note", Text, nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)


receipt_lines = Table(
    "receipt_lines",
    metadata,
    Column("receipt_id", String(32), ForeignKey("receipts.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=NO_LOT),
    Column("po_line_no", Integer, nullable=True),
    Column("expected_qty", BigInteger, nullable=True),  # none on a blind receipt
    Column("received_qty", BigInteger, nullable=False),  # every unit that arrived
    Column("damaged_qty", BigInteger, nullable=False, server_default="0"),  # of those
    CheckConstraint(
        "received_qty >= 0 AND damaged_qty >= 0 AND damaged_qty <= received_qty", name="qty_range"
    ),
)


home_bins = Table(
    "home_bins",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("bin_id", Id, ForeignKey("bins.id"), nullable=False),
)
