"""A year-sized database made in seconds on PostgreSQL, for tests of query plans.

Every table a list or a lookup reads gets tens or hundreds of thousands of rows
from set-based SQL (``INSERT ... SELECT ... generate_series``), shaped like real
history: most orders long delivered, a few open; most stock in two warehouses;
one warehouse with thousands of bins. The rows satisfy every key and check,
not the invariants (no ``verify`` runs on them): plans depend on sizes and
spreads, not on whether the books balance.

Ids and codes follow simple patterns, so a test can name one: order
``SO-00000042``, SKU ``SKU-000042``, location ``L-0001`` (the warehouses are
``L-0001`` and ``L-0002``), and so on (see ``Example``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

SKUS = 100_000
LOCATIONS = 2_000
WAREHOUSE_BINS = 2_000  # in L-0001, beside every location's MAIN
CHANNELS = 2_000
SUPPLIERS = 2_000
CUSTOMERS = 50_000
ORDERS = 100_000  # two lines each, one allocation each
MOVES = 100_000
EXCEPTIONS = 50_000
AUDITED = 50_000
EVENTS = 50_000
DELIVERIES = 50_000
PURCHASE_ORDERS = 20_000  # two lines each
ASNS = 10_000
RECEIPTS = 20_000
RETURNS = 20_000
TRANSFERS = 20_000
COUNTS = 20_000  # two lines each
WAVES = 10_000  # two tasks each
SHIPMENTS = 20_000


@dataclass(frozen=True, slots=True)
class Example:
    """Ids and codes of rows the data holds, for requests that name one."""

    order: str = "SO-00050000"
    reservation: str = "RS-00050000"
    sku: str = "SKU-000042"
    warehouse: str = "L-0001"
    store: str = "L-0100"
    channel: str = "CH-0003"
    customer: str = "C-000042"
    supplier: str = "SUP-0042"
    purchase_order: str = "PO-0000042"
    asn: str = "ASN-000042"
    receipt: str = "RC-0000042"
    rma: str = "RMA-0000042"
    transfer: str = "TR-0000042"
    count: str = "CC-0000042"
    wave: str = "W-0000042"
    shipment: str = "SH-0000042"


EXAMPLE = Example()

# Timestamps one minute apart, newest last, over the year before the reference day.
_AT = "TIMESTAMPTZ '2025-01-01 00:00:00+00' + (n * INTERVAL '1 minute')"

_STATEMENTS = [
    # places: two warehouses, the rest stores and customers' sites; a MAIN bin each
    f"""INSERT INTO locations (id, code, name, kind, allow_negative, created_at)
    SELECT n, 'L-' || lpad(n::text, 4, '0'), 'Location ' || n,
           CASE WHEN n <= 2 THEN 'warehouse' WHEN n % 2 = 0 THEN 'store' ELSE 'customer' END,
           false, {_AT}
    FROM generate_series(1, {LOCATIONS}) AS g(n)""",
    f"""INSERT INTO bins (id, location_id, code, zone, sequence, role)
    SELECT n, n, 'MAIN', NULL, 0, 'storage' FROM generate_series(1, {LOCATIONS}) AS g(n)""",
    f"""INSERT INTO bins (id, location_id, code, zone, sequence, role)
    SELECT {LOCATIONS} + n, 1, 'B-' || lpad(n::text, 5, '0'), 'Z' || (n % 20), n, 'storage'
    FROM generate_series(1, {WAREHOUSE_BINS}) AS g(n)""",
    # catalogue and stock: every SKU in both warehouses' MAIN
    f"""INSERT INTO skus (id, code, name, base_unit, active, lot_tracked, attributes, created_at)
    SELECT n, 'SKU-' || lpad(n::text, 6, '0'), 'Item ' || n, 'each', true, false, '{{}}', {_AT}
    FROM generate_series(1, {SKUS}) AS g(n)""",
    f"""INSERT INTO positions (id, sku_id, location_id, bin_id, lot_code, on_hand, allocated)
    SELECT n, (n + 1) / 2, 2 - n % 2, 2 - n % 2, '', 100, CASE WHEN n % 2 = 1 THEN 1 ELSE 0 END
    FROM generate_series(1, {2 * SKUS}) AS g(n)""",
    f"""INSERT INTO stock_moves (id, sku_id, qty, to_position_id, reason, actor, created_at)
    SELECT n, (n % {2 * SKUS} + 2) / 2, 1 + n % 5, n % {2 * SKUS} + 1, 'receipt', 'clerk', {_AT}
    FROM generate_series(1, {MOVES}) AS g(n)""",
    # parties
    f"""INSERT INTO channels (id, code, name, kind, priority, created_at)
    SELECT n, 'CH-' || lpad(n::text, 4, '0'), 'Channel ' || n, 'web', n % 10, {_AT}
    FROM generate_series(1, {CHANNELS}) AS g(n)""",
    f"""INSERT INTO channel_locations (channel_id, location_id)
    SELECT n, 1 FROM generate_series(1, {CHANNELS}) AS g(n)""",
    f"""INSERT INTO customers (id, code, name, created_at)
    SELECT n, 'C-' || lpad(n::text, 6, '0'), 'Customer ' || n, {_AT}
    FROM generate_series(1, {CUSTOMERS}) AS g(n)""",
    f"""INSERT INTO suppliers (id, code, name, lead_time_days, created_at)
    SELECT n, 'SUP-' || lpad(n::text, 4, '0'), 'Supplier ' || n, 7, {_AT}
    FROM generate_series(1, {SUPPLIERS}) AS g(n)""",
    # orders: a year of them, nearly all finished; twenty busy channels
    f"""INSERT INTO reservations (id, status, created_at, closed_at)
    SELECT 'RS-' || lpad(n::text, 8, '0'), CASE WHEN n % 50 = 0 THEN 'open' ELSE 'closed' END,
           {_AT}, CASE WHEN n % 50 = 0 THEN NULL ELSE {_AT} END
    FROM generate_series(1, {ORDERS}) AS g(n)""",
    f"""INSERT INTO orders (id, channel_id, customer_id, status, value, reservation_id,
                        created_at, updated_at)
    SELECT 'SO-' || lpad(n::text, 8, '0'), 1 + n % 20, 1 + n % {CUSTOMERS},
           CASE WHEN n % 50 = 0 THEN 'allocated' WHEN n % 50 = 1 THEN 'backordered'
                WHEN n % 50 = 2 THEN 'cancelled' ELSE 'delivered' END,
           10, 'RS-' || lpad(n::text, 8, '0'), {_AT}, {_AT}
    FROM generate_series(1, {ORDERS}) AS g(n)""",
    f"""INSERT INTO order_lines (order_id, line_no, sku_id, qty, cancelled_qty)
    SELECT 'SO-' || lpad(n::text, 8, '0'), l, 1 + (n * 7 + l) % {SKUS}, 1, 0
    FROM generate_series(1, {ORDERS}) AS g(n), generate_series(1, 2) AS k(l)""",
    f"""INSERT INTO allocations (id, reservation_id, line_no, position_id, qty, consumed_qty)
    SELECT n, 'RS-' || lpad(n::text, 8, '0'), 1, 2 * (1 + (n * 7 + 1) % {SKUS}) - 1, 1,
           CASE WHEN n % 50 = 0 THEN 0 ELSE 1 END
    FROM generate_series(1, {ORDERS}) AS g(n)""",
    f"""INSERT INTO order_decisions (id, order_id, at, actor, message)
    SELECT n, 'SO-' || lpad((2 * n)::text, 8, '0'), {_AT}, 'system', 'allocated from L-0001'
    FROM generate_series(1, {ORDERS // 2}) AS g(n)""",
    # the exceptions queue, the audit trail, events out
    f"""INSERT INTO exceptions (id, kind, state, order_id, sku_id, message, reference,
                            created_at, updated_at, location_id)
    SELECT n, CASE WHEN n % 3 = 0 THEN 'short_pick' ELSE 'atp_failure' END,
           CASE WHEN n % 20 = 0 THEN 'open' ELSE 'resolved' END,
           'SO-' || lpad((1 + n % {ORDERS})::text, 8, '0'), 1 + n % {SKUS}, 'not enough',
           'REF-' || n, {_AT}, {_AT}, 1
    FROM generate_series(1, {EXCEPTIONS}) AS g(n)""",
    f"""INSERT INTO audit_log (id, at, actor, role, via, command, target, outcome)
    SELECT n, {_AT}, 'user' || (n % 50), 'manager', 'token',
           'POST /api/v1/orders/{{order_id}}/cancel',
           json_build_object('order_id', 'SO-' || lpad(n::text, 8, '0')), 'done'
    FROM generate_series(1, {AUDITED}) AS g(n)""",
    f"""INSERT INTO outbox (id, topic, version, key, aggregate, scope, payload, created_at,
                        sequence, aggregate_sequence, published_at)
    SELECT n, 'order.allocated', 1, 'SO-' || lpad(n::text, 8, '0'), 'order',
           '{{"locations": ["L-0001"]}}', '{{}}', {_AT}, n, 1, {_AT}
    FROM generate_series(1, {EVENTS}) AS g(n)""",
    """INSERT INTO webhook_subscriptions (id, url, event_types, owner_id, status,
                                       created_at, updated_at)
    SELECT n, 'https://hooks.example.com/' || n, '["*"]', (SELECT min(id) FROM users),
           'active', now(), now()
    FROM generate_series(1, 2) AS g(n)""",
    f"""INSERT INTO webhook_deliveries (id, subscription_id, event_id, sequence, aggregate, status,
                                    attempts, next_attempt_at, created_at, finished_at)
    SELECT n, 1 + n % 2, n, n, 'order:SO-' || n,
           CASE WHEN n % 100 = 0 THEN 'dead' ELSE 'delivered' END, 1, {_AT}, {_AT}, {_AT}
    FROM generate_series(1, {DELIVERIES}) AS g(n)""",
    # purchasing and receiving
    f"""INSERT INTO purchase_orders (id, supplier_id, location_id, status, expected_on,
                                 created_at, updated_at)
    SELECT 'PO-' || lpad(n::text, 7, '0'), 1 + n % 200, 1 + n % 2,
           CASE WHEN n % 25 = 0 THEN 'open' ELSE 'closed' END, DATE '2025-06-01', {_AT}, {_AT}
    FROM generate_series(1, {PURCHASE_ORDERS}) AS g(n)""",
    f"""INSERT INTO incoming_supply (id, kind, reference, sku_id, location_id, qty, received_qty,
                                 expected_on, created_at, document_id, line_no)
    SELECT 2 * n + l - 2, 'purchase', 'PO-' || lpad(n::text, 7, '0'), 1 + (n + l) % {SKUS},
           1 + n % 2, 10, 10, DATE '2025-06-01', {_AT}, 'PO-' || lpad(n::text, 7, '0'), l
    FROM generate_series(1, {PURCHASE_ORDERS}) AS g(n), generate_series(1, 2) AS k(l)""",
    f"""INSERT INTO asns (id, po_id, expected_on, created_at)
    SELECT 'ASN-' || lpad(n::text, 6, '0'), 'PO-' || lpad(n::text, 7, '0'), DATE '2025-06-01',
           {_AT}
    FROM generate_series(1, {ASNS}) AS g(n)""",
    f"""INSERT INTO asn_lines (asn_id, line_no, po_line_no, sku_id, qty)
    SELECT 'ASN-' || lpad(n::text, 6, '0'), 1, 1, 1 + (n + 1) % {SKUS}, 10
    FROM generate_series(1, {ASNS}) AS g(n)""",
    f"""INSERT INTO receipts (id, location_id, po_id, actor, created_at)
    SELECT 'RC-' || lpad(n::text, 7, '0'), 1 + n % 2, 'PO-' || lpad(n::text, 7, '0'), 'clerk',
           {_AT}
    FROM generate_series(1, {RECEIPTS}) AS g(n)""",
    f"""INSERT INTO receipt_lines (receipt_id, line_no, sku_id, po_line_no, expected_qty,
                               received_qty, damaged_qty)
    SELECT 'RC-' || lpad(n::text, 7, '0'), 1, 1 + (n + 1) % {SKUS}, 1, 10, 10, 0
    FROM generate_series(1, {RECEIPTS}) AS g(n)""",
    # returns, transfers, counts
    f"""INSERT INTO rmas (id, order_id, location_id, status, reason, created_at, updated_at)
    SELECT 'RMA-' || lpad(n::text, 7, '0'), 'SO-' || lpad((2 * n)::text, 8, '0'), 1,
           CASE WHEN n % 10 = 0 THEN 'authorised' ELSE 'closed' END, 'damaged', {_AT}, {_AT}
    FROM generate_series(1, {RETURNS}) AS g(n)""",
    f"""INSERT INTO rma_lines (rma_id, line_no, order_line_no, sku_id, qty, received_qty,
                           inspected_qty)
    SELECT 'RMA-' || lpad(n::text, 7, '0'), 1, 1, 1 + (2 * n * 7 + 1) % {SKUS}, 1, 0, 0
    FROM generate_series(1, {RETURNS}) AS g(n)""",
    f"""INSERT INTO transfers (id, from_location_id, to_location_id, status, expected_on,
                           created_by, created_at, updated_at)
    SELECT 'TR-' || lpad(n::text, 7, '0'), 1, 2 + n % 100,
           CASE WHEN n % 10 = 0 THEN 'in_transit' ELSE 'received' END, DATE '2025-06-01',
           'clerk', {_AT}, {_AT}
    FROM generate_series(1, {TRANSFERS}) AS g(n)""",
    f"""INSERT INTO incoming_supply (id, kind, reference, sku_id, location_id, qty, received_qty,
                                 expected_on, created_at, document_id, line_no)
    SELECT {2 * PURCHASE_ORDERS} + n, 'transfer', 'TR-' || lpad(n::text, 7, '0'),
           1 + n % {SKUS}, 2 + n % 100, 5, 5, DATE '2025-06-01', {_AT},
           'TR-' || lpad(n::text, 7, '0'), 1
    FROM generate_series(1, {TRANSFERS}) AS g(n)""",
    f"""INSERT INTO cycle_counts (id, location_id, scope, status, tolerance_pct, created_by,
                              created_at, updated_at)
    SELECT 'CC-' || lpad(n::text, 7, '0'), 1 + n % 2, 'bins',
           CASE WHEN n % 10 = 0 THEN 'open' ELSE 'closed' END, 0, 'counter', {_AT}, {_AT}
    FROM generate_series(1, {COUNTS}) AS g(n)""",
    f"""INSERT INTO count_lines (count_id, line_no, bin_id, sku_id, lot_code, expected_qty,
                             counted_qty, status, counted_by, counted_at)
    SELECT 'CC-' || lpad(n::text, 7, '0'), l, 1 + n % 2, 1 + (n + l) % {SKUS}, '', 100, 100,
           'adjusted', 'counter', {_AT}
    FROM generate_series(1, {COUNTS}) AS g(n), generate_series(1, 2) AS k(l)""",
    # the floor
    f"""INSERT INTO waves (id, location_id, status, created_by, created_at, updated_at)
    SELECT 'W-' || lpad(n::text, 7, '0'), 1 + n % 2,
           CASE WHEN n % 100 = 0 THEN 'open' ELSE 'done' END, 'lead', {_AT}, {_AT}
    FROM generate_series(1, {WAVES}) AS g(n)""",
    f"""INSERT INTO pick_tasks (id, wave_id, order_id, allocation_id, position_id, sku_id, qty,
                            picked_qty, short_qty, tote, sequence, status)
    SELECT 2 * n + l - 2, 'W-' || lpad(n::text, 7, '0'), 'SO-' || lpad((2 * n + l)::text, 8, '0'),
           2 * n + l, 2 * (1 + ((2 * n + l) * 7 + 1) % {SKUS}) - 1,
           1 + ((2 * n + l) * 7 + 1) % {SKUS}, 1, 1, 0, 'T' || l, l, 'picked'
    FROM generate_series(1, {WAVES}) AS g(n), generate_series(1, 2) AS k(l)""",
    f"""INSERT INTO shipments (id, serial, order_id, location_id, status, carrier, service,
                           tracking_no, created_at, updated_at, shipped_at)
    SELECT 'SH-' || lpad(n::text, 7, '0'), n, 'SO-' || lpad((2 * n)::text, 8, '0'), 1,
           'delivered', 'postnl', 'standard', 'TRK' || lpad(n::text, 10, '0'), {_AT}, {_AT},
           {_AT}
    FROM generate_series(1, {SHIPMENTS}) AS g(n)""",
    f"""INSERT INTO shipment_items (shipment_id, order_line_no, sku_id, qty)
    SELECT 'SH-' || lpad(n::text, 7, '0'), 1, 1 + (2 * n * 7 + 1) % {SKUS}, 1
    FROM generate_series(1, {SHIPMENTS}) AS g(n)""",
    f"""INSERT INTO packages (id, shipment_id, weight_g, length_mm, width_mm, height_mm,
                          created_at)
    SELECT n, 'SH-' || lpad(n::text, 7, '0'), 500, 300, 200, 100, {_AT}
    FROM generate_series(1, {SHIPMENTS}) AS g(n)""",
    f"""INSERT INTO tracking_events (id, shipment_id, status, at)
    SELECT n, 'SH-' || lpad(n::text, 7, '0'), 'delivered', {_AT}
    FROM generate_series(1, {SHIPMENTS}) AS g(n)""",
]


def fill(conn: Connection) -> None:
    """Load the data set into an empty, migrated PostgreSQL database (a user must exist).

    The rows are made to satisfy every foreign key, so a superuser skips checking
    them one by one (three times faster); anyone else waits for the checks.
    """
    superuser = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if superuser.scalar():
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    for statement in _STATEMENTS:
        conn.execute(text(statement))
    # Ids were given explicitly: move each sequence past them for the rows written later.
    sequences = conn.execute(
        text(
            "SELECT c.table_name, pg_get_serial_sequence(c.table_name, c.column_name)"
            " FROM information_schema.columns c WHERE c.table_schema = 'public'"
            " AND c.column_name = 'id' AND pg_get_serial_sequence(c.table_name, 'id') IS NOT NULL"
        )
    ).all()
    for table, sequence in sequences:
        highest = f"COALESCE((SELECT max(id) FROM {table}), 0)"
        conn.execute(text(f"SELECT setval('{sequence}', {highest} + 1, false)"))
