"""exception locations: an exception names the location it happened at

Revision ID: 0008
Revises: 0007

A count variance, a receiving or transfer discrepancy, a short pick happen at
a location; the exception keeps which, so that its events name it (a partner
limited to that site hears of them). Exceptions raised before have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            "fk_exceptions_location_id_locations", "locations", ["location_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_exceptions_location_id_locations", type_="foreignkey")
        batch_op.drop_column("location_id")
