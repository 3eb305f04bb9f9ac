"""Transfers' table: stock on its way from one location to another."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, String, Table

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata, one_of

transfers = Table(
    "transfers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("from_location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("to_location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expected_on", Date, nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=True),
    one_of("status", ("in_transit", "received", "cancelled")),
    CheckConstraint("from_location_id <> to_location_id", name="two_places"),
)
# Newest first, page by page, maybe of one status or of those leaving or reaching a location
# (GET /transfers).
Index("ix_transfers_created", transfers.c.created_at, transfers.c.id)
Index("ix_transfers_status_created", transfers.c.status, transfers.c.created_at, transfers.c.id)
Index(
    "ix_transfers_from_created",
    transfers.c.from_location_id,
    transfers.c.created_at,
    transfers.c.id,
)
Index("ix_transfers_to_created", transfers.c.to_location_id, transfers.c.created_at, transfers.c.id)
