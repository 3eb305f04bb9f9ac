"""The stock core's tables: catalogue, places, ledger, positions, reservations, exceptions."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from stockflow.adapters.tables.base import NO_LOT, Id, UtcDateTime, metadata, one_of

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
    one_of("kind", ("warehouse", "store", "dc", "supplier", "customer", "in_transit")),
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
    one_of("role", ("storage", "receiving", "staging", "quarantine", "returns")),
    CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
)
# A location's bins in walking order, page by page.
Index("ix_bins_location_sequence", bins.c.location_id, bins.c.sequence, bins.c.code)


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
    Column("lot_code", String(64), nullable=False, server_default=NO_LOT),
    Column("on_hand", BigInteger, nullable=False, server_default="0"),
    Column("allocated", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("sku_id", "location_id", "bin_id", "lot_code", name="uq_positions_key"),
    CheckConstraint("allocated >= 0", name="allocated_not_negative"),
)
# A location's positions in key order (and by SKU within a location, for locks and counts).
Index(
    "ix_positions_location_key",
    positions.c.location_id,
    positions.c.sku_id,
    positions.c.bin_id,
    positions.c.lot_code,
)


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
    one_of(
        "reason",
        (
            "receipt",
            "putaway",
            "move",
            "adjustment",
            "count_correction",
            "pick",
            "ship",
            "return",
            "scrap",
            "transfer_out",
            "transfer_in",
        ),
    ),
)
Index("ix_stock_moves_sku_created", stock_moves.c.sku_id, stock_moves.c.created_at)
# A SKU's moves, newest first.
Index("ix_stock_moves_sku_id", stock_moves.c.sku_id, stock_moves.c.id)
Index("ix_stock_moves_from", stock_moves.c.from_position_id)
Index("ix_stock_moves_to", stock_moves.c.to_position_id)


# The ledger summed up to a move id, so that ``verify`` reads only the moves after it.
# One row: the move id every balance below is summed through (0: nothing yet).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("through_move_id", BigInteger, nullable=False),
    Column("taken_at", UtcDateTime(), nullable=False),
    CheckConstraint("id = 1", name="one_row"),
    CheckConstraint("through_move_id >= 0", name="through_not_negative"),
)


# Each position's moves in less its moves out, over the moves up to the checkpoint;
# a position without a row had none.
balance_checkpoints = Table(
    "balance_checkpoints",
    metadata,
    Column("position_id", Id, ForeignKey("positions.id"), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
)


reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_ref", String(128), nullable=True),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    one_of("status", ("open", "closed")),
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


kit_components = Table(
    "kit_components",
    metadata,
    Column("kit_sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("component_sku_id", Id, ForeignKey("skus.id"), primary_key=True),
    Column("qty", Integer, nullable=False),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint("kit_sku_id <> component_sku_id", name="not_itself"),
)


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
    # Where it happened (a count, a receipt, a short pick); its events name it.
    Column("location_id", Id, ForeignKey("locations.id"), nullable=True),
    one_of(
        "kind",
        (
            "atp_failure",
            "order_on_hold",
            "late_backorder",
            "stuck_order",
            "put_back",
            "short_pick",
            "count_variance",
            "receiving_discrepancy",
            "transfer_discrepancy",
            "shipment_exception",
        ),
    ),
    one_of("state", ("open", "acknowledged", "resolved")),
)
Index("ix_exceptions_state_kind", exceptions.c.state, exceptions.c.kind)
# The queue newest first, of one state, kind or reference.
Index("ix_exceptions_state_id", exceptions.c.state, exceptions.c.id)
Index("ix_exceptions_kind_id", exceptions.c.kind, exceptions.c.id)
Index("ix_exceptions_reference_id", exceptions.c.reference, exceptions.c.id)
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
    one_of("kind", ("purchase", "transfer")),
    # More may arrive than was ordered: an over-receipt is recorded, not refused.
    CheckConstraint("qty > 0 AND received_qty >= 0 AND damaged_qty >= 0", name="qty_range"),
    UniqueConstraint("document_id", "line_no", name="uq_incoming_supply_document_line"),
)
Index("ix_incoming_supply_sku_date", incoming_supply.c.sku_id, incoming_supply.c.expected_on)
