"""balance checkpoints, and the index of a shipment's packages

Revision ID: 0011
Revises: 0010

``ledger_checkpoints`` holds one row, the move id the balances are summed
through; ``balance_checkpoints`` each position's balance over the moves up to
it. The first ``verify`` after this revision reads the whole ledger and writes
the first checkpoint.

The lists' indexes came with 0010; a shipment's packages are looked up by
their shipment (``tests/api/test_query_plans.py`` shows the plan).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (name, table, columns)
_INDEXES = [
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
