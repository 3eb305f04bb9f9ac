"""webhook heads: a delivery waiting behind an earlier one of its aggregate has no time yet

Revision ID: 0009
Revises: 0008

One aggregate's deliveries to a subscription go one at a time, in stream
order. Before, the dispatcher found each aggregate's first pending delivery
by looking at every pending one; now only that first one has a next try
time, and the ones behind it wait with none (NULL) until it is finished, so
finding what is due reads no more rows than it sends. The index of due
deliveries gains the id, the dispatcher's tie-break.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PENDING = "status = 'pending'"
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("next_attempt_at", existing_type=_AT, nullable=True)
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    # What is already pending behind an earlier delivery of its aggregate waits.
    op.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = NULL"
        " WHERE status = 'pending' AND aggregate IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM webhook_deliveries AS e WHERE e.status = 'pending'"
        " AND e.subscription_id = webhook_deliveries.subscription_id"
        " AND e.aggregate = webhook_deliveries.aggregate"
        " AND (e.sequence < webhook_deliveries.sequence"
        " OR (e.sequence = webhook_deliveries.sequence AND e.id < webhook_deliveries.id)))"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE next_attempt_at IS NULL"
    )
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("next_attempt_at", existing_type=_AT, nullable=False)
