"""The record of every file imported: what, when, by whom, and the file's content hash."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, UniqueConstraint

from stockflow.adapters.tables.base import Id, UtcDateTime, metadata

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(32), nullable=False),  # skus, locations, bins, stock, orders...
    Column("sha256", String(64), nullable=False),  # of the file's bytes
    Column("file", String(255), nullable=False),  # its name, as given
    Column("rows", Integer, nullable=False),  # data rows in the file
    Column("actor", String(64), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    Column("summary", JSON, nullable=False),  # what it wrote (orders created, by status...)
    # One file of one kind goes in once: a second run finds the first.
    UniqueConstraint("kind", "sha256", name="uq_import_runs_kind_sha256"),
)
Index("ix_import_runs_kind", import_runs.c.kind, import_runs.c.id)
