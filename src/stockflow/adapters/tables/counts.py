"""Cycle counts' tables: a count and its lines."""

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
)

from stockflow.adapters.tables.base import NO_LOT, Id, UtcDateTime, metadata, one_of

cycle_counts = Table(
    "cycle_counts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("tolerance_pct", Numeric(5, 2), nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    one_of("status", ("open", "pending_approval", "closed", "cancelled")),
    CheckConstraint("tolerance_pct >= 0 AND tolerance_pct <= 100", name="tolerance_range"),
)
# Newest first, page by page, of everywhere or of one location (GET /counts).
Index("ix_cycle_counts_created", cycle_counts.c.created_at, cycle_counts.c.id)
Index(
    "ix_cycle_counts_location_created",
    cycle_counts.c.location_id,
    cycle_counts.c.created_at,
    cycle_counts.c.id,
)


count_lines = Table(
    "count_lines",
    metadata,
    Column("count_id", String(32), ForeignKey("cycle_counts.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("bin_id", Id, ForeignKey("bins.id"), nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=NO_LOT),
    Column("expected_qty", BigInteger, nullable=True),  # the books at the moment of counting
    Column("counted_qty", BigInteger, nullable=True),
    Column("status", String(24), nullable=False),
    Column("counted_by", String(64), nullable=True),
    Column("counted_at", UtcDateTime(), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    CheckConstraint("counted_qty IS NULL OR counted_qty >= 0", name="counted_not_negative"),
    one_of("status", ("open", "counted", "adjusted", "pending_approval", "approved", "rejected")),
)
