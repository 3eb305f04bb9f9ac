"""The outbox: events written in the transaction that caused them, published after commit."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, text

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("topic", String(64), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),  # the payload's shape
    Column("key", String(128), nullable=True),  # what the event is about: an order id...
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
)
Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.id)
