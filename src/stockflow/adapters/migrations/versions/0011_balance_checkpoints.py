"""balance checkpoints: the ledger summed up to a move id, so verify reads only what came after

Revision ID: 0011
Revises: 0008

``ledger_checkpoints`` holds one row, the move id the balances are summed
through; ``balance_checkpoints`` each position's balance over the moves up to
it. The first ``verify`` after this revision reads the whole ledger and writes
the first checkpoint.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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


def downgrade() -> None:
    op.drop_table("balance_checkpoints")
    op.drop_table("ledger_checkpoints")
