"""balance checkpoints, and the indexes that let lists read a page rather than a table

Revision ID: 0011
Revises: 0009

``ledger_checkpoints`` holds one row, the move id the balances are summed
through; ``balance_checkpoints`` each position's balance over the moves up to
it. The first ``verify`` after this revision reads the whole ledger and writes
the first checkpoint.

The indexes serve lists newest first (orders, counts, purchase orders,
returns, transfers), with their filters, and two lookups (exceptions by
reference, a shipment's packages); ``tests/api/test_query_plans.py`` shows
which plan needs which.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (name, table, columns)
_INDEXES = [
    ("ix_orders_created", "orders", ["created_at", "id"]),
    ("ix_cycle_counts_created", "cycle_counts", ["created_at", "id"]),
    ("ix_cycle_counts_location_created", "cycle_counts", ["location_id", "created_at", "id"]),
    ("ix_purchase_orders_created", "purchase_orders", ["created_at", "id"]),
    ("ix_purchase_orders_status_created", "purchase_orders", ["status", "created_at", "id"]),
    ("ix_purchase_orders_supplier_created", "purchase_orders", ["supplier_id", "created_at", "id"]),
    ("ix_rmas_created", "rmas", ["created_at", "id"]),
    ("ix_rmas_status_created", "rmas", ["status", "created_at", "id"]),
    ("ix_transfers_created", "transfers", ["created_at", "id"]),
    ("ix_transfers_status_created", "transfers", ["status", "created_at", "id"]),
    ("ix_transfers_from_created", "transfers", ["from_location_id", "created_at", "id"]),
    ("ix_transfers_to_created", "transfers", ["to_location_id", "created_at", "id"]),
    ("ix_exceptions_reference", "exceptions", ["reference"]),
    ("ix_packages_shipment", "packages", ["shipment_id"]),
]


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("through_move_id", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_checkpoints_one_row")),
        sa.CheckConstraint(
            "through_move_id >= 0", name=op.f("ck_ledger_checkpoints_through_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "balance_checkpoints",
        sa.Column("position_id", _ID, nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_balance_checkpoints_position_id_positions"),
        ),
        sa.PrimaryKeyConstraint("position_id", name=op.f("pk_balance_checkpoints")),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("balance_checkpoints")
    op.drop_table("ledger_checkpoints")
