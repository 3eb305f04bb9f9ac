"""Orders from a CSV or XLSX sheet: one row per order line, every order or none.

Rows with the same channel and external id are one order, wherever they sit in
the file. The whole file is checked first (types, then the catalogue, channels
and customers); then every order is captured in one transaction through
``capture_many``, the same code a single order takes. An order the stock rules
refuse (its channel takes no backorders) rolls the whole file back, and the
error names the row of the line at fault; every problem of the file is
reported, not only the first. The import is one unit (``import_runs``):
importing the same file again changes nothing, and an order of another file
with a channel + external id captured before replays that order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from stockflow.adapters.database import Running
from stockflow.adapters.sheets import Cells, Columns, read_sheet
from stockflow.errors import InvalidInput, Problems, StockflowError
from stockflow.orders.capture import capture_many, check_order
from stockflow.orders.order_refs import OrderRefs
from stockflow.stock.book import load_book
from stockflow.stock.import_runs import ImportSummary, ProgressCallback, run_import
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.allocation import StockBook
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn
from stockflow.stock.rules.quantities import positive_quantity

ORDER_COLUMNS = Columns(
    ("channel", "external_id", "ship_to", "sku", "qty"),
    ("customer", "ship_to_latitude", "ship_to_longitude", "unit_price"),
)
ACTOR = "import"
KIND = "orders"
_CHUNK = 1_000  # orders per capture_many call
_PRICE_LIMIT = 10**10  # unit_price is NUMERIC(14, 4)
_HEAD_FIELDS = ("customer", "ship_to", "ship_to_latitude", "ship_to_longitude")
_LINE_FIELD = re.compile(r"lines\[(\d+)\](?:\.(\w+))?")


@dataclass(frozen=True, slots=True)
class OrderImportSummary(ImportSummary):
    """What an order import did: orders, how many new and how many captured before, by status."""

    orders: int = 0
    created: int = 0
    replayed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SheetOrder:
    """One order gathered from its rows: the row of each line and of each order-level value."""

    channel: str
    external_id: str
    rows: list[int] = field(default_factory=list)
    lines: list[OrderLineIn] = field(default_factory=list)
    head: dict[str, object] = field(default_factory=dict)
    head_rows: dict[str, int] = field(default_factory=dict)
    whole: bool = True  # False: a row of it had a problem, so it is not captured

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
            exc.row = self.head_rows.get(exc.field or "", self.rows[0] if self.rows else None)
        return exc


def read_orders(path: Path, problems: Problems | None = None) -> tuple[str, int, list[SheetOrder]]:
    """The file's name, its data row count and its orders, every row checked for types.

    With ``problems`` every problem is told there and the orders with one are
    marked not ``whole``; without, the first problem is raised.
    """
    found = Problems(columns=ORDER_COLUMNS.all()) if problems is None else problems
    sheet = read_sheet(path, ORDER_COLUMNS, problems=found)
    orders: dict[tuple[str, str], SheetOrder] = {}
    for row in sheet.rows:
        cells = Cells(row, found)
        channel = cells.text("channel", required=True, max_length=32)
        external_id = cells.text("external_id", required=True, max_length=128)
        if channel is None or external_id is None:
            continue
        order = orders.setdefault((channel, external_id), SheetOrder(channel, external_id))
        _add_head(order, cells)
        _add_line(order, cells)
        order.whole = order.whole and cells.ok
    for order in orders.values():
        _check_coordinates(order, found)
        if not order.whole:
            continue
        try:
            check_order(order.command())
        except StockflowError as exc:
            order.whole = False
            found.add(order.at_row(exc))
    if problems is None:
        found.raise_any()
    return sheet.name, len(sheet.rows), list(orders.values())


def import_orders(
    sf: Running, path: Path, *, progress: ProgressCallback | None = None, dry_run: bool = False
) -> OrderImportSummary:
    """Capture every order in the file in one transaction, or none of them.

    The file is checked whole first; every problem is reported, those the
    stock rules find too (an order its channel refuses for lack of stock).
    """
    name, rows = path.name, 0

    def prepare() -> Callable[[Connection], tuple[list[OrderView], int, dict[str, Any]]]:
        nonlocal name, rows
        found = Problems(columns=ORDER_COLUMNS.all())
        name, rows, orders = read_orders(path, found)
        if progress is not None:
            progress(rows // 2, rows)

        def work(conn: Connection) -> tuple[list[OrderView], int, dict[str, Any]]:
            problems = found.copy()
            now = sf.clock()
            views = capture_sheet(
                conn, orders, today=now.date(), now=now, progress=progress, problems=problems,
                capture=dry_run or not problems,
            )  # fmt: skip
            problems.raise_any()
            return views, rows, _summary(views)

        return work

    outcome = run_import(sf, path, KIND, prepare, dry_run=dry_run)
    done = OrderImportSummary(
        KIND, name, rows, outcome.seconds, dry_run=dry_run, earlier=outcome.earlier,
        followup_failed=outcome.followup_failed,
    )  # fmt: skip
    if outcome.earlier is not None:
        captured = int(outcome.earlier.summary.get("orders", 0))
        return replace(done, rows=outcome.earlier.rows, orders=captured, replayed=captured)
    summary = _summary(outcome.result or [])
    return replace(
        done, orders=summary["orders"], created=summary["created"],
        replayed=summary["replayed"], by_status=summary["by_status"],
    )  # fmt: skip


def _summary(views: Sequence[OrderView]) -> dict[str, Any]:
    replayed = sum(v.replayed for v in views)
    return {
        "orders": len(views),
        "created": len(views) - replayed,
        "replayed": replayed,
        "by_status": dict(Counter(v.status for v in views if not v.replayed)),
    }


def capture_sheet(
    conn: Connection,
    orders: Sequence[SheetOrder],
    *,
    today: date,
    now: datetime,
    progress: ProgressCallback | None = None,
    problems: Problems | None = None,
    capture: bool = True,
) -> list[OrderView]:
    """Capture ``orders`` in the caller's transaction; refusals go to ``problems`` with their row.

    Without ``problems`` the first refusal is raised. Orders not ``whole``
    are left out; with ``capture`` False only their references are checked.
    """
    found = Problems() if problems is None else problems
    whole = [o for o in orders if o.whole]
    cmds = [o.command() for o in whole]
    refs, book, priority = _check_and_lock(
        conn, whole, cmds, today=today, problems=found, lock=capture
    )
    if book is None:
        return []
    # Higher-priority channels first, then file order: chunking changes nothing
    # about who is served first, exactly as one batch would.
    sequence = sorted((i for i in range(len(cmds)) if priority[i] is not None),
                      key=lambda i: (-(priority[i] or 0), i))  # fmt: skip
    views: list[OrderView | None] = [None] * len(cmds)
    total_rows = sum(len(o.rows) for o in orders)
    done_rows = 0
    for start in range(0, len(sequence), _CHUNK):
        chunk = sequence[start : start + _CHUNK]
        outcomes = capture_many(
            conn, [cmds[i] for i in chunk], today=today, now=now, refs=refs, book=book
        )
        for i, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, StockflowError):
                found.add(whole[i].at_row(outcome))
            else:
                views[i] = outcome
            done_rows += len(whole[i].rows)
        if progress is not None:
            progress(total_rows // 2 + done_rows // 2, total_rows)
    if problems is None:
        found.raise_any()
    return [v for v in views if v is not None]


def _check_and_lock(
    conn: Connection,
    orders: Sequence[SheetOrder],
    cmds: Sequence[CaptureOrder],
    *,
    today: date,
    problems: Problems,
    lock: bool,
) -> tuple[OrderRefs, StockBook | None, list[int | None]]:
    """Check every order's channel, SKUs and customer; lock the stock they draw on.

    Returns the references of every order (looked up once), the locked stock
    book of the whole file (None without ``lock``), and each order's channel
    priority (None: its references are bad). Every position the file draws
    on is locked up front, in the global lock order, so the capture chunks
    never take a lock out of order.
    """
    refs = OrderRefs.load(conn, cmds)
    priority: list[int | None] = []
    for order, cmd in zip(orders, cmds, strict=True):
        bad = refs.problems(cmd)
        for exc in bad:
            problems.add(order.at_row(exc))
        priority.append(None if bad else refs.channel(cmd.channel).priority)
    if not lock:
        return refs, None, priority
    drawing = (cmd for cmd, p in zip(cmds, priority, strict=True) if p is not None)
    book, _ = load_book(conn, refs.stock_codes(drawing), today, lock=True)
    return refs, book, priority


def _add_head(order: SheetOrder, cells: Cells) -> None:
    """Order-level cells: blank on later rows is fine, a different value is not."""
    values: dict[str, object] = {
        "customer": cells.text("customer", max_length=64),
        "ship_to": cells.text("ship_to", max_length=2000),
        "ship_to_latitude": _coordinate(cells, "ship_to_latitude", 90),
        "ship_to_longitude": _coordinate(cells, "ship_to_longitude", 180),
    }
    for name in _HEAD_FIELDS:
        value = values[name]
        if value is None:
            continue
        if name not in order.head:
            order.head[name] = value
            order.head_rows[name] = cells.row.number
        elif order.head[name] != value:
            cells.bad(
                name,
                f"order {order.external_id} of channel {order.channel} has "
                f"{order.head[name]!s} on row {order.head_rows[name]}, {value!s} here",
            )


def _add_line(order: SheetOrder, cells: Cells) -> None:
    number = cells.row.number
    sku = cells.text("sku", required=True, max_length=64)
    for line, earlier in zip(order.lines, order.rows, strict=True):
        if sku is not None and line.sku == sku:
            cells.bad(
                "sku",
                f"SKU {sku} appears twice in order {order.external_id}: "
                f"rows {earlier} and {number}; put it on one line",
            )
    qty = cells.whole("qty", required=True)
    if qty is not None:
        qty = cells.get(lambda: positive_quantity(qty, field="qty", row=number))
    price = cells.decimal("unit_price")
    if price is not None and not (0 <= price < _PRICE_LIMIT and price == round(price, 4)):
        cells.bad(
            "unit_price", f"must be 0 or more, below {_PRICE_LIMIT:,}, with at most 4 decimals"
        )
    if sku is not None and qty is not None and cells.ok:
        order.lines.append(OrderLineIn(sku, qty, price))
        order.rows.append(number)


def _coordinate(cells: Cells, name: str, limit: int) -> Decimal | None:
    value = cells.decimal(name)
    if value is not None and not -limit <= value <= limit:
        cells.bad(name, f"must be between -{limit} and {limit}, got {value}")
        return None
    return value


def _check_coordinates(order: SheetOrder, problems: Problems) -> None:
    has = [n for n in ("ship_to_latitude", "ship_to_longitude") if n in order.head]
    if len(has) == 1:
        missing = "ship_to_longitude" if has[0] == "ship_to_latitude" else "ship_to_latitude"
        order.whole = False
        problems.add(
            InvalidInput(
                f"give both ship_to_latitude and ship_to_longitude, or neither; {missing} is blank",
                field=missing,
                row=order.head_rows[has[0]],
            )
        )
