"""Returns' tables: RMAs, their lines and what inspection decided."""

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

rmas = Table(
    "rmas",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),  # where it comes back
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("refund_suggested", Numeric(14, 2), nullable=False, server_default="0"),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    one_of("status", ("authorised", "received", "closed", "cancelled")),
)
# Newest first, page by page, maybe of one status (GET /returns).
Index("ix_rmas_created", rmas.c.created_at, rmas.c.id)
Index("ix_rmas_status_created", rmas.c.status, rmas.c.created_at, rmas.c.id)
Index("ix_rmas_order", rmas.c.order_id)


rma_lines = Table(
    "rma_lines",
    metadata,
    Column("rma_id", String(32), ForeignKey("rmas.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("order_line_no", Integer, nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("received_qty", BigInteger, nullable=False, server_default="0"),
    Column("inspected_qty", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(
        "qty > 0 AND received_qty >= 0 AND received_qty <= qty"
        " AND inspected_qty >= 0 AND inspected_qty <= received_qty",
        name="qty_range",
    ),
)


rma_dispositions = Table(
    "rma_dispositions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("rma_id", String(32), ForeignKey("rmas.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
    one_of("disposition", ("restock", "repair", "quarantine", "scrap")),
)
Index("ix_rma_dispositions_rma", rma_dispositions.c.rma_id)
