"""The schema, as SQLAlchemy Core tables; Alembic migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both databases (SQLite hands back naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only gives autoincrement to INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

skus = Table(
    "skus",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("base_unit", String(16), nullable=False, server_default="each"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("lot_tracked", Boolean, nullable=False, server_default="0"),
    Column("unit_price", Numeric(14, 4), nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("address", Text, nullable=True),
    Column("latitude", Numeric(9, 6), nullable=True),
    Column("longitude", Numeric(9, 6), nullable=True),
    Column("allow_negative", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "kind IN ('warehouse', 'store', 'dc', 'supplier', 'customer', 'in_transit')", name="kind"
    ),
)

bins = Table(
    "bins",
    metadata,
    Column("id", Id, primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("zone", String(32), nullable=True),
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("role", String(16), nullable=False, server_default="storage"),
    Column("capacity", BigInteger, nullable=True),
    UniqueConstraint("location_id", "code", name="uq_bins_location_code"),
    CheckConstraint(
        "role IN ('storage', 'receiving', 'staging', 'quarantine', 'returns')", name="role"
    ),
    CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
)

lots = Table(
    "lots",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("expires_on", Date, nullable=True),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("bin_id", Id, ForeignKey("bins.id"), nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=""),
    Column("on_hand", BigInteger, nullable=False, server_default="0"),
    Column("allocated", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("sku_id", "location_id", "bin_id", "lot_code", name="uq_positions_key"),
    CheckConstraint("allocated >= 0", name="allocated_not_negative"),
)
Index("ix_positions_location_sku", positions.c.location_id, positions.c.sku_id)

stock_buffers = Table(
    "stock_buffers",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    CheckConstraint("qty >= 0", name="qty_not_negative"),
)

stock_moves = Table(
    "stock_moves",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("from_position_id", Id, ForeignKey("positions.id"), nullable=True),
    Column("to_position_id", Id, ForeignKey("positions.id"), nullable=True),
    Column("reason", String(24), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reference", String(128), nullable=True),
    Column("note", Text, nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "from_position_id IS NOT NULL OR to_position_id IS NOT NULL", name="has_an_end"
    ),
)
Index("ix_stock_moves_sku_created", stock_moves.c.sku_id, stock_moves.c.created_at)
Index("ix_stock_moves_from", stock_moves.c.from_position_id)
Index("ix_stock_moves_to", stock_moves.c.to_position_id)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_ref", String(128), nullable=True),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
)
Index("ix_reservations_owner", reservations.c.owner_ref)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("reservation_id", String(32), ForeignKey("reservations.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("position_id", Id, ForeignKey("positions.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("released_qty", BigInteger, nullable=False, server_default="0"),
    Column("consumed_qty", BigInteger, nullable=False, server_default="0"),
    # Units carried with their stock to another position (a pick, a put-away);
    # the allocation row at the new position holds them from then on.
    Column("moved_qty", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "released_qty >= 0 AND consumed_qty >= 0 AND moved_qty >= 0"
        " AND released_qty + consumed_qty + moved_qty <= qty",
        name="closed_within_qty",
    ),
)
Index("ix_allocations_reservation", allocations.c.reservation_id)

allocation_open_qty = (
    allocations.c.qty
    - allocations.c.released_qty
    - allocations.c.consumed_qty
    - allocations.c.moved_qty
)
"""Units an allocation row still holds at its position."""
Index("ix_allocations_position", allocations.c.position_id)

# --- order management -------------------------------------------------------

kit_components = Table(
    "kit_components",
    metadata,
    Column("kit_sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("component_sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("qty", Integer, nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint("kit_sku_id <> component_sku_id", name="not_itself"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("max_splits", Integer, nullable=False, server_default="1"),
    Column("allow_partial", Boolean, nullable=False, server_default="0"),
    Column("backorder_policy", String(16), nullable=False, server_default="allow"),
    Column("backorder_days", Integer, nullable=True),
    Column("hold_over_value", Numeric(14, 2), nullable=True),
    Column("hold_new_customers", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "kind IN ('web', 'wholesale', 'phone', 'marketplace', 'spreadsheet', 'other')", name="kind"
    ),
    CheckConstraint("backorder_policy IN ('allow', 'reject', 'allow_days')", name="policy"),
    CheckConstraint("max_splits >= 1", name="max_splits_positive"),
)

channel_locations = Table(
    "channel_locations",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
)

ring_fences = Table(
    "ring_fences",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id"), primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    CheckConstraint("qty >= 0", name="qty_not_negative"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200), nullable=True),
    Column("phone", String(64), nullable=True),
    Column("address", Text, nullable=True),
    Column("latitude", Numeric(9, 6), nullable=True),
    Column("longitude", Numeric(9, 6), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel_id", Id, ForeignKey("channels.id"), nullable=False),
    Column("external_id", String(128), nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=True),
    Column("ship_to", Text, nullable=True),
    Column("ship_to_latitude", Numeric(9, 6), nullable=True),
    Column("ship_to_longitude", Numeric(9, 6), nullable=True),
    Column("status", String(24), nullable=False),
    Column("hold_reason", Text, nullable=True),
    Column("promise_date", Date, nullable=True),
    Column("value", Numeric(16, 4), nullable=False, server_default="0"),
    Column("reservation_id", String(32), ForeignKey("reservations.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("channel_id", "external_id", name="uq_orders_channel_external"),
)
Index("ix_orders_status_created", orders.c.status, orders.c.created_at)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(32), ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("unit_price", Numeric(14, 4), nullable=True),
    Column("cancelled_qty", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint("cancelled_qty >= 0 AND cancelled_qty <= qty", name="cancelled_within_qty"),
)

order_decisions = Table(
    "order_decisions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("message", Text, nullable=False),
)
Index("ix_order_decisions_order", order_decisions.c.order_id)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False, server_default="open"),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=True),
    Column("message", Text, nullable=False),
    Column("reference", String(128), nullable=True),  # the receipt, wave, count... it is about
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="state"),
)
Index("ix_exceptions_state_kind", exceptions.c.state, exceptions.c.kind)
Index("ix_exceptions_order", exceptions.c.order_id)

incoming_supply = Table(
    "incoming_supply",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("reference", String(128), nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("received_qty", BigInteger, nullable=False, server_default="0"),
    Column("expected_on", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # A purchase order's or transfer's line: the document and its line number.
    Column("document_id", String(32), nullable=True),
    Column("line_no", Integer, nullable=True),
    Column("unit_cost", Numeric(14, 4), nullable=True),
    Column("damaged_qty", BigInteger, nullable=False, server_default="0"),
    Column("lot_code", String(64), nullable=True),
    CheckConstraint("kind IN ('purchase', 'transfer')", name="kind"),
    # More may arrive than was ordered: an over-receipt is recorded, not refused.
    CheckConstraint("qty > 0 AND received_qty >= 0 AND damaged_qty >= 0", name="qty_range"),
    UniqueConstraint("document_id", "line_no", name="uq_incoming_supply_document_line"),
)
Index("ix_incoming_supply_sku_date", incoming_supply.c.sku_id, incoming_supply.c.expected_on)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("topic", String(64), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),  # the payload's shape
    Column("key", String(128), nullable=True),  # what the event is about: an order id...
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=True),
)
Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.id)

# --- the warehouse floor ----------------------------------------------------

home_bins = Table(
    "home_bins",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("bin_id", Id, ForeignKey("bins.id"), nullable=False),
)

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("lead_time_days", Integer, nullable=False, server_default="7"),
    Column("email", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
)

purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("supplier_id", Id, ForeignKey("suppliers.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("expected_on", Date, nullable=False),
    Column("reference", String(128), nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "status IN ('open', 'partially_received', 'received', 'closed', 'cancelled')",
        name="status",
    ),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("from_location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("to_location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expected_on", Date, nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=True),
    CheckConstraint("status IN ('in_transit', 'received', 'cancelled')", name="status"),
    CheckConstraint("from_location_id <> to_location_id", name="two_places"),
)

asns = Table(
    "asns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("po_id", String(32), ForeignKey("purchase_orders.id"), nullable=False),
    Column("reference", String(128), nullable=True),
    Column("expected_on", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

asn_lines = Table(
    "asn_lines",
    metadata,
    Column("asn_id", String(32), ForeignKey("asns.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("po_line_no", Integer, nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=""),
    CheckConstraint("qty > 0", name="qty_positive"),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("po_id", String(32), ForeignKey("purchase_orders.id"), nullable=True),
    Column("asn_id", String(32), ForeignKey("asns.id"), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("note", Text, nullable=True),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

receipt_lines = Table(
    "receipt_lines",
    metadata,
    Column("receipt_id", String(32), ForeignKey("receipts.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=""),
    Column("po_line_no", Integer, nullable=True),
    Column("expected_qty", BigInteger, nullable=True),  # none on a blind receipt
    Column("received_qty", BigInteger, nullable=False),  # every unit that arrived
    Column("damaged_qty", BigInteger, nullable=False, server_default="0"),  # of those
    CheckConstraint(
        "received_qty >= 0 AND damaged_qty >= 0 AND damaged_qty <= received_qty", name="qty_range"
    ),
)

waves = Table(
    "waves",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cutoff", UtcDateTime(), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status"),
)

pick_tasks = Table(
    "pick_tasks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("wave_id", String(32), ForeignKey("waves.id"), nullable=False),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("allocation_id", Id, ForeignKey("allocations.id"), nullable=False),
    Column("position_id", Id, ForeignKey("positions.id"), nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("picked_qty", BigInteger, nullable=False, server_default="0"),
    Column("short_qty", BigInteger, nullable=False, server_default="0"),
    Column("tote", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("picked_by", String(64), nullable=True),
    Column("picked_at", UtcDateTime(), nullable=True),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "picked_qty >= 0 AND short_qty >= 0 AND picked_qty + short_qty <= qty", name="done_within"
    ),
    CheckConstraint("status IN ('open', 'picked', 'short', 'cancelled')", name="status"),
)
Index("ix_pick_tasks_wave", pick_tasks.c.wave_id)
Index("ix_pick_tasks_order", pick_tasks.c.order_id)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("serial", Id, nullable=False, unique=True),  # numbers the tracking number
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("carrier", String(16), nullable=True),
    Column("service", String(32), nullable=True),
    Column("tracking_no", String(64), nullable=True, unique=True),
    Column("amount", Numeric(14, 2), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("shipped_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
)
Index("ix_shipments_order", shipments.c.order_id)

shipment_items = Table(
    "shipment_items",
    metadata,
    Column("shipment_id", String(32), ForeignKey("shipments.id"), primary_key=True),
    Column("order_line_no", Integer, primary_key=True),
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("qty", BigInteger, nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
)

packages = Table(
    "packages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    CheckConstraint(
        "weight_g > 0 AND length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="positive"
    ),
)

tracking_events = Table(
    "tracking_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("note", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
)
Index("ix_tracking_events_shipment", tracking_events.c.shipment_id)

rmas = Table(
    "rmas",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),  # where it comes back
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("refund_suggested", Numeric(14, 2), nullable=False, server_default="0"),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("status IN ('authorised', 'received', 'closed', 'cancelled')", name="status"),
)
Index("ix_rmas_order", rmas.c.order_id)

rma_lines = Table(
    "rma_lines",
    metadata,
    Column("rma_id", String(32), ForeignKey("rmas.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("order_line_no", Integer, nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("received_qty", BigInteger, nullable=False, server_default="0"),
    Column("inspected_qty", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(
        "qty > 0 AND received_qty >= 0 AND received_qty <= qty"
        " AND inspected_qty >= 0 AND inspected_qty <= received_qty",
        name="qty_range",
    ),
)

rma_dispositions = Table(
    "rma_dispositions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("rma_id", String(32), ForeignKey("rmas.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "disposition IN ('restock', 'repair', 'quarantine', 'scrap')", name="disposition"
    ),
)
Index("ix_rma_dispositions_rma", rma_dispositions.c.rma_id)

cycle_counts = Table(
    "cycle_counts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("tolerance_pct", Numeric(5, 2), nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("status IN ('open', 'pending_approval', 'closed', 'cancelled')", name="status"),
    CheckConstraint("tolerance_pct >= 0 AND tolerance_pct <= 100", name="tolerance_range"),
)

count_lines = Table(
    "count_lines",
    metadata,
    Column("count_id", String(32), ForeignKey("cycle_counts.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("bin_id", Id, ForeignKey("bins.id"), nullable=False),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("lot_code", String(64), nullable=False, server_default=""),
    Column("expected_qty", BigInteger, nullable=True),  # the books at the moment of counting
    Column("counted_qty", BigInteger, nullable=True),
    Column("status", String(24), nullable=False),
    Column("counted_by", String(64), nullable=True),
    Column("counted_at", UtcDateTime(), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    CheckConstraint("counted_qty IS NULL OR counted_qty >= 0", name="counted_not_negative"),
    CheckConstraint(
        "status IN ('open', 'counted', 'adjusted', 'pending_approval', 'approved', 'rejected')",
        name="status",
    ),
)
