"""vocabulary checks: order and shipment statuses, exception kinds, move reasons; waves

Revision ID: 0005
Revises: 0004

Every value stockflow writes to these columns comes from its rules' enums, so
existing rows satisfy the checks; the database now refuses any other word.
The values are frozen here as they stand at this revision: a later change to
an enum comes with a migration of its own. A wave's check loses "cancelled":
the wave lifecycle has no such status and no wave was ever written with it.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ORDER_STATUSES = (
    "draft", "on_hold", "allocated", "partially_allocated", "backordered", "released",
    "picking", "packed", "shipped", "delivered", "cancelled", "closed",
)  # fmt: skip
SHIPMENT_STATUSES = (
    "packing", "shipped", "in_transit", "out_for_delivery", "delivered", "exception", "returned",
)  # fmt: skip
EXCEPTION_KINDS = (
    "atp_failure", "order_on_hold", "late_backorder", "stuck_order", "put_back", "short_pick",
    "count_variance", "receiving_discrepancy", "transfer_discrepancy", "shipment_exception",
)  # fmt: skip
MOVE_REASONS = (
    "receipt", "putaway", "move", "adjustment", "count_correction", "pick", "ship", "return",
    "scrap", "transfer_out", "transfer_in",
)  # fmt: skip

# table, column, allowed values; each check is named ck_<table>_<column>.
CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("orders", "status", ORDER_STATUSES),
    ("shipments", "status", SHIPMENT_STATUSES),
    ("tracking_events", "status", SHIPMENT_STATUSES),
    ("exceptions", "kind", EXCEPTION_KINDS),
    ("stock_moves", "reason", MOVE_REASONS),
)
# table, column, allowed values now, allowed values before: checks that narrow.
NARROWED: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("waves", "status", ("open", "done"), ("open", "done", "cancelled")),
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _forbid_ledger_rewrites_again() -> None:
    """Put back the triggers that keep ledger rows append-only (I4), as 0001 made them.

    SQLite copies stock_moves into a new table to add its check, and the copy
    carries no triggers; on PostgreSQL the table and its trigger stay put.
    """
    if op.get_bind().dialect.name != "sqlite":
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS stock_moves_no_{action.lower()} "
            f"BEFORE {action} ON stock_moves "
            "BEGIN SELECT RAISE(ABORT, 'stock moves are append-only'); END"
        )


def _replace_check(table: str, column: str, values: tuple[str, ...]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
        batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _one_of(column, values))


def upgrade() -> None:
    # On SQLite each batch copies the table into a new one that has the check;
    # on PostgreSQL it is a plain ALTER TABLE ... ADD CONSTRAINT.
    for table, column, values in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _one_of(column, values))
    for table, column, values, _ in NARROWED:
        _replace_check(table, column, values)
    _forbid_ledger_rewrites_again()


def downgrade() -> None:
    for table, column, _, before in NARROWED:
        _replace_check(table, column, before)
    for table, column, _ in reversed(CHECKS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    _forbid_ledger_rewrites_again()
