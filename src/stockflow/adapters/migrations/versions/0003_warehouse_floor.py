"""warehouse floor

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"], unique=False)
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "from_location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "to_location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('in_transit', 'received', 'cancelled')", name=op.f("ck_transfers_status")
        ),
        sa.CheckConstraint(
            "from_location_id <> to_location_id", name=op.f("ck_transfers_two_places")
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.id"],
            name=op.f("fk_transfers_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"], ["locations.id"], name=op.f("fk_transfers_to_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transfers_idempotency_key")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_suppliers_lead_time_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    op.create_table(
        "cycle_counts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column(
            "tolerance_pct", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False
        ),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'pending_approval', 'closed', 'cancelled')",
            name=op.f("ck_cycle_counts_status"),
        ),
        sa.CheckConstraint(
            "tolerance_pct >= 0 AND tolerance_pct <= 100",
            name=op.f("ck_cycle_counts_tolerance_range"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_cycle_counts_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_counts")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "supplier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'partially_received', 'received', 'closed', 'cancelled')",
            name=op.f("ck_purchase_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_purchase_orders_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_purchase_orders_idempotency_key")),
    )
    op.create_table(
        "waves",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f("ck_waves_status")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_waves_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waves")),
    )
    op.create_table(
        "asns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("po_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["po_id"], ["purchase_orders.id"], name=op.f("fk_asns_po_id_purchase_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asns")),
    )
    op.create_table(
        "count_lines",
        sa.Column("count_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lot_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("expected_qty", sa.BigInteger(), nullable=True),
        sa.Column("counted_qty", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("counted_by", sa.String(length=64), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'counted', 'adjusted', 'pending_approval', 'approved', 'rejected')",
            name=op.f("ck_count_lines_status"),
        ),
        sa.CheckConstraint(
            "counted_qty IS NULL OR counted_qty >= 0",
            name=op.f("ck_count_lines_counted_not_negative"),
        ),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_count_lines_bin_id_bins")),
        sa.ForeignKeyConstraint(
            ["count_id"], ["cycle_counts.id"], name=op.f("fk_count_lines_count_id_cycle_counts")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_count_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("count_id", "line_no", name=op.f("pk_count_lines")),
    )
    op.create_table(
        "home_bins",
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_home_bins_bin_id_bins")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_home_bins_location_id_locations")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_home_bins_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", "location_id", name=op.f("pk_home_bins")),
    )
    op.create_table(
        "rmas",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "refund_suggested",
            sa.Numeric(precision=14, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('authorised', 'received', 'closed', 'cancelled')",
            name=op.f("ck_rmas_status"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_rmas_location_id_locations")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_rmas_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rmas")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_rmas_idempotency_key")),
    )
    with op.batch_alter_table("rmas", schema=None) as batch_op:
        batch_op.create_index("ix_rmas_order", ["order_id"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=True),
        sa.Column("tracking_no", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_shipments_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("serial", name=op.f("uq_shipments_serial")),
        sa.UniqueConstraint("tracking_no", name=op.f("uq_shipments_tracking_no")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index("ix_shipments_order", ["order_id"], unique=False)

    op.create_table(
        "asn_lines",
        sa.Column("asn_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("po_line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("lot_code", sa.String(length=64), server_default="", nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_asn_lines_qty_positive")),
        sa.ForeignKeyConstraint(["asn_id"], ["asns.id"], name=op.f("fk_asn_lines_asn_id_asns")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_asn_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("asn_id", "line_no", name=op.f("pk_asn_lines")),
    )
    op.create_table(
        "packages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("length_mm", sa.Integer(), nullable=False),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("height_mm", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "weight_g > 0 AND length_mm > 0 AND width_mm > 0 AND height_mm > 0",
            name=op.f("ck_packages_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_packages_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("po_id", sa.String(length=32), nullable=True),
        sa.Column("asn_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asn_id"], ["asns.id"], name=op.f("fk_receipts_asn_id_asns")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_receipts_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["po_id"], ["purchase_orders.id"], name=op.f("fk_receipts_po_id_purchase_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_receipts_idempotency_key")),
    )
    op.create_table(
        "rma_dispositions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rma_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "disposition IN ('restock', 'repair', 'quarantine', 'scrap')",
            name=op.f("ck_rma_dispositions_disposition"),
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_rma_dispositions_qty_positive")),
        sa.ForeignKeyConstraint(
            ["rma_id"], ["rmas.id"], name=op.f("fk_rma_dispositions_rma_id_rmas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rma_dispositions")),
    )
    with op.batch_alter_table("rma_dispositions", schema=None) as batch_op:
        batch_op.create_index("ix_rma_dispositions_rma", ["rma_id"], unique=False)

    op.create_table(
        "rma_lines",
        sa.Column("rma_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("received_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("inspected_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "qty > 0 AND received_qty >= 0 AND received_qty <= qty AND inspected_qty >= 0 AND inspected_qty <= received_qty",
            name=op.f("ck_rma_lines_qty_range"),
        ),
        sa.ForeignKeyConstraint(["rma_id"], ["rmas.id"], name=op.f("fk_rma_lines_rma_id_rmas")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_rma_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("rma_id", "line_no", name=op.f("pk_rma_lines")),
    )
    op.create_table(
        "shipment_items",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("order_line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_shipment_items_qty_positive")),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_shipment_items_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_shipment_items_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint(
            "shipment_id", "order_line_no", "sku_id", name=op.f("pk_shipment_items")
        ),
    )
    op.create_table(
        "tracking_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_tracking_events_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
    )
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_events_shipment", ["shipment_id"], unique=False)

    op.create_table(
        "pick_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("wave_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column(
            "allocation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "position_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("picked_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("short_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("tote", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("picked_by", sa.String(length=64), nullable=True),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'picked', 'short', 'cancelled')", name=op.f("ck_pick_tasks_status")
        ),
        sa.CheckConstraint(
            "picked_qty >= 0 AND short_qty >= 0 AND picked_qty + short_qty <= qty",
            name=op.f("ck_pick_tasks_done_within"),
        ),
        sa.CheckConstraint("qty > 0", name=op.f("ck_pick_tasks_qty_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_pick_tasks_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_pick_tasks_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_pick_tasks_position_id_positions")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_pick_tasks_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name=op.f("fk_pick_tasks_wave_id_waves")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_tasks")),
    )
    with op.batch_alter_table("pick_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_pick_tasks_order", ["order_id"], unique=False)
        batch_op.create_index("ix_pick_tasks_wave", ["wave_id"], unique=False)

    op.create_table(
        "receipt_lines",
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lot_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("po_line_no", sa.Integer(), nullable=True),
        sa.Column("expected_qty", sa.BigInteger(), nullable=True),
        sa.Column("received_qty", sa.BigInteger(), nullable=False),
        sa.Column("damaged_qty", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "received_qty >= 0 AND damaged_qty >= 0 AND damaged_qty <= received_qty",
            name=op.f("ck_receipt_lines_qty_range"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipts.id"], name=op.f("fk_receipt_lines_receipt_id_receipts")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_receipt_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("receipt_id", "line_no", name=op.f("pk_receipt_lines")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moved_qty", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(op.f("ck_allocations_closed_within_qty"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_allocations_closed_within_qty"),
            "released_qty >= 0 AND consumed_qty >= 0 AND moved_qty >= 0"
            " AND released_qty + consumed_qty + moved_qty <= qty",
        )

    with op.batch_alter_table("bins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="storage", nullable=False)
        )
        batch_op.add_column(sa.Column("capacity", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_bins_role"),
            "role IN ('storage', 'receiving', 'staging', 'quarantine', 'returns')",
        )
        batch_op.create_check_constraint(
            op.f("ck_bins_capacity_positive"), "capacity IS NULL OR capacity > 0"
        )

    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=128), nullable=True))

    with op.batch_alter_table("incoming_supply", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("line_no", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("unit_cost", sa.Numeric(precision=14, scale=4), nullable=True)
        )
        batch_op.add_column(
            sa.Column("damaged_qty", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("lot_code", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_incoming_supply_document_line", ["document_id", "line_no"]
        )
        batch_op.drop_constraint(op.f("ck_incoming_supply_qty_range"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_incoming_supply_qty_range"),
            "qty > 0 AND received_qty >= 0 AND damaged_qty >= 0",
        )


def downgrade() -> None:
    with op.batch_alter_table("incoming_supply", schema=None) as batch_op:
        batch_op.drop_constraint("uq_incoming_supply_document_line", type_="unique")
        batch_op.drop_constraint(op.f("ck_incoming_supply_qty_range"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_incoming_supply_qty_range"),
            "qty > 0 AND received_qty >= 0 AND received_qty <= qty",
        )
        batch_op.drop_column("lot_code")
        batch_op.drop_column("damaged_qty")
        batch_op.drop_column("unit_cost")
        batch_op.drop_column("line_no")
        batch_op.drop_column("document_id")

    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_column("reference")

    with op.batch_alter_table("bins", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_bins_capacity_positive"), type_="check")
        batch_op.drop_constraint(op.f("ck_bins_role"), type_="check")
        batch_op.drop_column("capacity")
        batch_op.drop_column("role")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_allocations_closed_within_qty"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_allocations_closed_within_qty"),
            "released_qty >= 0 AND consumed_qty >= 0 AND released_qty + consumed_qty <= qty",
        )
        batch_op.drop_column("moved_qty")

    op.drop_table("receipt_lines")
    with op.batch_alter_table("pick_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_pick_tasks_wave")
        batch_op.drop_index("ix_pick_tasks_order")

    op.drop_table("pick_tasks")
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_events_shipment")

    op.drop_table("tracking_events")
    op.drop_table("shipment_items")
    op.drop_table("rma_lines")
    with op.batch_alter_table("rma_dispositions", schema=None) as batch_op:
        batch_op.drop_index("ix_rma_dispositions_rma")

    op.drop_table("rma_dispositions")
    op.drop_table("receipts")
    op.drop_table("packages")
    op.drop_table("asn_lines")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_order")

    op.drop_table("shipments")
    with op.batch_alter_table("rmas", schema=None) as batch_op:
        batch_op.drop_index("ix_rmas_order")

    op.drop_table("rmas")
    op.drop_table("home_bins")
    op.drop_table("count_lines")
    op.drop_table("asns")
    op.drop_table("waves")
    op.drop_table("purchase_orders")
    op.drop_table("cycle_counts")
    op.drop_table("suppliers")
    op.drop_table("transfers")
    op.drop_table("outbox")
