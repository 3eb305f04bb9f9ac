"""import runs: every imported file recorded with its content hash

Revision ID: 0012
Revises: 0011

An import (SKUs, locations, bins, opening stock, orders, purchase orders)
writes one row in the transaction that imports the file: its kind, the
SHA-256 of its bytes, its name, its rows, who ran it, when, and a summary of
what it wrote. The unique (kind, sha256) lets the same file go in once: a
second run finds the first and changes nothing.

Two indexes let an order import (and any capture) work out promise dates
without reading the whole order history: order lines by SKU, orders by
reservation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
        sa.UniqueConstraint("kind", "sha256", name="uq_import_runs_kind_sha256"),
    )
    op.create_index("ix_import_runs_kind", "import_runs", ["kind", "id"])
    op.create_index("ix_order_lines_sku_id", "order_lines", ["sku_id"])
    op.create_index("ix_orders_reservation_id", "orders", ["reservation_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_reservation_id", table_name="orders")
    op.drop_index("ix_order_lines_sku_id", table_name="order_lines")
    op.drop_index("ix_import_runs_kind", table_name="import_runs")
    op.drop_table("import_runs")
