"""core ledger, positions and reservations

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("allow_negative", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('warehouse', 'store', 'dc', 'supplier', 'customer', 'in_transit')",
            name=op.f("ck_locations_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_locations_code")),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_ref", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_reservations_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reservations_idempotency_key")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_owner", ["owner_ref"], unique=False)

    op.create_table(
        "skus",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_unit", sa.String(length=16), server_default="each", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("lot_tracked", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
        sa.UniqueConstraint("code", name=op.f("uq_skus_code")),
    )
    op.create_table(
        "bins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=32), nullable=True),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_bins_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bins")),
        sa.UniqueConstraint("location_id", "code", name="uq_bins_location_code"),
    )
    op.create_table(
        "lots",
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_lots_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", "code", name=op.f("pk_lots")),
    )
    op.create_table(
        "stock_buffers",
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty >= 0", name=op.f("ck_stock_buffers_qty_not_negative")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_buffers_location_id_locations")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_buffers_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", "location_id", name=op.f("pk_stock_buffers")),
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lot_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("on_hand", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("allocated", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("allocated >= 0", name=op.f("ck_positions_allocated_not_negative")),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_positions_bin_id_bins")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_positions_location_id_locations")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_positions_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("sku_id", "location_id", "bin_id", "lot_code", name="uq_positions_key"),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index("ix_positions_location_sku", ["location_id", "sku_id"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reservation_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column(
            "position_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("released_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("consumed_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_allocations_qty_positive")),
        sa.CheckConstraint(
            "released_qty >= 0 AND consumed_qty >= 0 AND released_qty + consumed_qty <= qty",
            name=op.f("ck_allocations_closed_within_qty"),
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_allocations_position_id_positions")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_allocations_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_position", ["position_id"], unique=False)
        batch_op.create_index("ix_allocations_reservation", ["reservation_id"], unique=False)

    op.create_table(
        "stock_moves",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column(
            "from_position_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "to_position_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_position_id IS NOT NULL OR to_position_id IS NOT NULL",
            name=op.f("ck_stock_moves_has_an_end"),
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_stock_moves_qty_positive")),
        sa.ForeignKeyConstraint(
            ["from_position_id"],
            ["positions.id"],
            name=op.f("fk_stock_moves_from_position_id_positions"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_moves_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["to_position_id"],
            ["positions.id"],
            name=op.f("fk_stock_moves_to_position_id_positions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_moves")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_stock_moves_idempotency_key")),
    )
    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.create_index("ix_stock_moves_from", ["from_position_id"], unique=False)
        batch_op.create_index("ix_stock_moves_sku_created", ["sku_id", "created_at"], unique=False)
        batch_op.create_index("ix_stock_moves_to", ["to_position_id"], unique=False)

    _forbid_ledger_rewrites()


def _forbid_ledger_rewrites() -> None:
    """I4: ledger rows are never updated or deleted; the database refuses it too."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER stock_moves_no_{action.lower()} BEFORE {action} ON stock_moves "
                "BEGIN SELECT RAISE(ABORT, 'stock moves are append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION stock_moves_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'stock moves are append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER stock_moves_append_only BEFORE UPDATE OR DELETE ON stock_moves "
        "FOR EACH ROW EXECUTE FUNCTION stock_moves_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS stock_moves_no_update")
        op.execute("DROP TRIGGER IF EXISTS stock_moves_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS stock_moves_append_only ON stock_moves")
        op.execute("DROP FUNCTION IF EXISTS stock_moves_append_only()")
    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_moves_to")
        batch_op.drop_index("ix_stock_moves_sku_created")
        batch_op.drop_index("ix_stock_moves_from")

    op.drop_table("stock_moves")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_reservation")
        batch_op.drop_index("ix_allocations_position")

    op.drop_table("allocations")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index("ix_positions_location_sku")

    op.drop_table("positions")
    op.drop_table("stock_buffers")
    op.drop_table("lots")
    op.drop_table("bins")
    op.drop_table("skus")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_owner")

    op.drop_table("reservations")
    op.drop_table("locations")
