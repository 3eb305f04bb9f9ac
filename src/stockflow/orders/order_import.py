"""Orders from a CSV or XLSX sheet: one row per order line, every order or none.

Rows with the same channel and external id are one order, wherever they sit in
the file. The whole file is checked first (types, then the catalogue, channels
and customers); then every order is captured in one transaction through
``capture_many``, the same code a single order takes. An order the stock rules
refuse (its channel takes no backorders) rolls the whole file back, and the
error names the row of the line at fault. Importing the same file again
captures nothing twice: channel + external id replays the order captured first.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection

from stockflow.adapters.database import Running
from stockflow.adapters.sheets import Columns, Row, read_sheet
from stockflow.errors import InvalidInput, StockflowError
from stockflow.orders.capture import capture_many, check_order
from stockflow.orders.order_refs import OrderRefs
from stockflow.stock.book import load_book
from stockflow.stock.import_runs import ProgressCallback
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn
from stockflow.stock.rules.quantities import positive_quantity

ORDER_COLUMNS = Columns(
    ("channel", "external_id", "ship_to", "sku", "qty"),
    ("customer", "ship_to_latitude", "ship_to_longitude", "unit_price"),
)
ACTOR = "import"
_CHUNK = 1_000  # orders per capture_many call: every lookup stays inside bind-parameter limits
_LOCK_CHUNK = 5_000  # SKUs per locking read
_PRICE_LIMIT = 10**10  # unit_price is NUMERIC(14, 4)
_HEAD_FIELDS = ("customer", "ship_to", "ship_to_latitude", "ship_to_longitude")
_LINE_FIELD = re.compile(r"lines\[(\d+)\](?:\.(\w+))?")


@dataclass(frozen=True, slots=True)
class OrderImportSummary:
    """What an order import did and how long it took."""

    file: str
    rows: int
    orders: int
    created: int
    replayed: int
    by_status: dict[str, int]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Throughput of the whole import, reading the file included."""
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


@dataclass(slots=True)
class SheetOrder:
    """One order gathered from its rows: the row of each line and of each order-level value."""

    channel: str
    external_id: str
    rows: list[int] = field(default_factory=list)
    lines: list[OrderLineIn] = field(default_factory=list)
    head: dict[str, object] = field(default_factory=dict)
    head_rows: dict[str, int] = field(default_factory=dict)

    def command(self) -> CaptureOrder:
        """The capture command this order stands for."""
        lat, lon = self.head.get("ship_to_latitude"), self.head.get("ship_to_longitude")
        customer, ship_to = self.head.get("customer"), self.head.get("ship_to")
        return CaptureOrder(
            channel=self.channel,
            lines=tuple(self.lines),
            ship_to=ship_to if isinstance(ship_to, str) else None,
            external_id=self.external_id,
            customer=customer if isinstance(customer, str) else None,
            ship_to_latitude=lat if isinstance(lat, Decimal) else None,
            ship_to_longitude=lon if isinstance(lon, Decimal) else None,
            actor=ACTOR,
        )

    def at_row(self, exc: StockflowError) -> StockflowError:
        """``exc`` pointed at the row and column of this order that it is about."""
        found = _LINE_FIELD.fullmatch(exc.field or "")
        if found is not None and int(found.group(1)) < len(self.rows):
            exc.row = self.rows[int(found.group(1))]
            exc.field = found.group(2) or "sku"
        else:
            exc.row = self.head_rows.get(exc.field or "", self.rows[0])
        return exc


def read_orders(path: Path) -> tuple[str, int, list[SheetOrder]]:
    """The file's name, its data row count and its orders, every row checked for types."""
    sheet = read_sheet(path, ORDER_COLUMNS)
    orders: dict[tuple[str, str], SheetOrder] = {}
    for row in sheet.rows:
        channel, external_id = _required(row, "channel", 32), _required(row, "external_id", 128)
        order = orders.setdefault((channel, external_id), SheetOrder(channel, external_id))
        _add_head(order, row)
        _add_line(order, row)
    for order in orders.values():
        _check_coordinates(order)
        try:
            check_order(order.command())
        except StockflowError as exc:
            raise order.at_row(exc) from None
    return sheet.name, len(sheet.rows), list(orders.values())


def import_orders(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None
) -> OrderImportSummary:
    """Capture every order in the file in one transaction, or none of them."""
    started = time.perf_counter()
    name, rows, orders = read_orders(path)
    now = sf.clock()
    views = sf.db.run(
        lambda conn: capture_sheet(conn, orders, today=now.date(), now=now, progress=progress),
        idempotent=True,
    )
    replayed = sum(v.replayed for v in views)
    return OrderImportSummary(
        file=name,
        rows=rows,
        orders=len(views),
        created=len(views) - replayed,
        replayed=replayed,
        by_status=dict(Counter(v.status for v in views if not v.replayed)),
        seconds=time.perf_counter() - started,
    )


def capture_sheet(
    conn: Connection,
    orders: Sequence[SheetOrder],
    *,
    today: date,
    now: datetime,
    progress: ProgressCallback | None = None,
) -> list[OrderView]:
    """Capture ``orders`` in the caller's transaction; the first refusal is raised with its row."""
    cmds = [o.command() for o in orders]
    priority = _check_and_lock(conn, orders, cmds, today=today)
    # Higher-priority channels first, then file order: chunking changes nothing
    # about who is served first, exactly as one batch would.
    sequence = sorted(range(len(cmds)), key=lambda i: (-priority[i], i))
    views: list[OrderView | None] = [None] * len(cmds)
    total_rows = sum(len(o.rows) for o in orders)
    done_rows = 0
    for start in range(0, len(sequence), _CHUNK):
        chunk = sequence[start : start + _CHUNK]
        outcomes = capture_many(conn, [cmds[i] for i in chunk], today=today, now=now)
        for i, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, StockflowError):
                raise orders[i].at_row(outcome)
            views[i] = outcome
            done_rows += len(orders[i].rows)
        if progress is not None:
            progress(done_rows, total_rows)
    return [v for v in views if v is not None]


def _check_and_lock(
    conn: Connection, orders: Sequence[SheetOrder], cmds: Sequence[CaptureOrder], *, today: date
) -> list[int]:
    """Check every order's channel, SKUs and customer; lock the stock they draw on.

    Returns each order's channel priority. Every position the file draws on is
    locked up front, in the global lock order, so the capture chunks never take
    a lock out of order.
    """
    priority: list[int] = []
    drawn: set[tuple[int, str]] = set()
    for start in range(0, len(cmds), _CHUNK):
        refs = OrderRefs.load(conn, cmds[start : start + _CHUNK])
        for i in range(start, min(start + _CHUNK, len(cmds))):
            try:
                channel = refs.check(cmds[i])
            except StockflowError as exc:
                raise orders[i].at_row(exc) from None
            priority.append(channel.priority)
            drawn.update((n.sku_id, n.sku) for n in refs.needs(cmds[i]))
    in_lock_order = [code for _, code in sorted(drawn)]
    for start in range(0, len(in_lock_order), _LOCK_CHUNK):
        load_book(conn, set(in_lock_order[start : start + _LOCK_CHUNK]), today, lock=True)
    return priority


def _required(row: Row, name: str, max_length: int) -> str:
    value = row.text(name, max_length=max_length)
    if value is None:
        raise row.error(name, "is required")
    return value


def _add_head(order: SheetOrder, row: Row) -> None:
    """Order-level cells: blank on later rows is fine, a different value is not."""
    values: dict[str, object] = {
        "customer": row.text("customer", max_length=64),
        "ship_to": row.text("ship_to", max_length=2000),
        "ship_to_latitude": _coordinate(row, "ship_to_latitude", 90),
        "ship_to_longitude": _coordinate(row, "ship_to_longitude", 180),
    }
    for name in _HEAD_FIELDS:
        value = values[name]
        if value is None:
            continue
        if name not in order.head:
            order.head[name] = value
            order.head_rows[name] = row.number
        elif order.head[name] != value:
            raise row.error(
                name,
                f"order {order.external_id} of channel {order.channel} has "
                f"{order.head[name]!s} on row {order.head_rows[name]}, {value!s} here",
            )


def _add_line(order: SheetOrder, row: Row) -> None:
    sku = _required(row, "sku", 64)
    for line, number in zip(order.lines, order.rows, strict=True):
        if line.sku == sku:
            raise row.error(
                "sku",
                f"SKU {sku} appears twice in order {order.external_id}: "
                f"rows {number} and {row.number}; put it on one line",
            )
    qty = row.whole("qty")
    if qty is None:
        raise row.error("qty", "is required")
    price = row.decimal("unit_price")
    if price is not None and not (0 <= price < _PRICE_LIMIT and price == round(price, 4)):
        raise row.error(
            "unit_price", f"must be 0 or more, below {_PRICE_LIMIT:,}, with at most 4 decimals"
        )
    order.lines.append(OrderLineIn(sku, positive_quantity(qty, field="qty", row=row.number), price))
    order.rows.append(row.number)


def _coordinate(row: Row, name: str, limit: int) -> Decimal | None:
    value = row.decimal(name)
    if value is not None and not -limit <= value <= limit:
        raise row.error(name, f"must be between -{limit} and {limit}, got {value}")
    return value


def _check_coordinates(order: SheetOrder) -> None:
    has = [n for n in ("ship_to_latitude", "ship_to_longitude") if n in order.head]
    if len(has) == 1:
        missing = "ship_to_longitude" if has[0] == "ship_to_latitude" else "ship_to_latitude"
        raise InvalidInput(
            f"give both ship_to_latitude and ship_to_longitude, or neither; {missing} is blank",
            field=missing,
            row=order.head_rows[has[0]],
        )
