"""The schema, as SQLAlchemy Core tables, one module per feature; Alembic migrations create it.

Importing the package registers every table on the one ``metadata``, so foreign keys
between modules resolve and ``metadata.sorted_tables`` sees the whole schema.
"""

from __future__ import annotations

from stockflow.adapters.tables.access import api_tokens, audit_log, sessions, user_scopes, users
from stockflow.adapters.tables.base import Id, UtcDateTime, metadata
from stockflow.adapters.tables.counts import count_lines, cycle_counts
from stockflow.adapters.tables.events import (
    event_aggregates,
    outbox,
    relay_leases,
    webhook_attempts,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)
from stockflow.adapters.tables.floor import (
    packages,
    pick_tasks,
    shipment_items,
    shipments,
    tracking_events,
    waves,
)
from stockflow.adapters.tables.orders import (
    channel_locations,
    channels,
    customers,
    order_decisions,
    order_lines,
    orders,
    ring_fences,
)
from stockflow.adapters.tables.receiving import (
    asn_lines,
    asns,
    home_bins,
    purchase_orders,
    receipt_lines,
    receipts,
    suppliers,
)
from stockflow.adapters.tables.returns import rma_dispositions, rma_lines, rmas
from stockflow.adapters.tables.stock import (
    allocation_open_qty,
    allocations,
    balance_checkpoints,
    bins,
    exceptions,
    incoming_supply,
    kit_components,
    ledger_checkpoints,
    locations,
    lots,
    positions,
    reservations,
    skus,
    stock_buffers,
    stock_moves,
)
from stockflow.adapters.tables.transfers import transfers

__all__ = [
    "Id",
    "UtcDateTime",
    "allocation_open_qty",
    "allocations",
    "api_tokens",
    "asn_lines",
    "asns",
    "audit_log",
    "balance_checkpoints",
    "bins",
    "channel_locations",
    "channels",
    "count_lines",
    "customers",
    "cycle_counts",
    "event_aggregates",
    "exceptions",
    "home_bins",
    "incoming_supply",
    "kit_components",
    "ledger_checkpoints",
    "locations",
    "lots",
    "metadata",
    "order_decisions",
    "order_lines",
    "orders",
    "outbox",
    "packages",
    "pick_tasks",
    "positions",
    "purchase_orders",
    "receipt_lines",
    "receipts",
    "relay_leases",
    "reservations",
    "ring_fences",
    "rma_dispositions",
    "rma_lines",
    "rmas",
    "sessions",
    "shipment_items",
    "shipments",
    "skus",
    "stock_buffers",
    "stock_moves",
    "suppliers",
    "tracking_events",
    "transfers",
    "user_scopes",
    "users",
    "waves",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_secrets",
    "webhook_subscriptions",
]
