"""Load a generated ``scale`` data set through stockflow's own import and write paths.

SKUs, locations, bins and opening stock go through the services behind
``stockflow import skus/locations/bins/stock``; the orders through the one
behind ``stockflow orders import``, a file a month. Opening stock goes in a
file per location: on PostgreSQL a transaction takes an advisory lock for
every SKU and location whose stock it changes (``stock.changed``), and with
the server's default ``max_locks_per_transaction`` (64) more than about
12,000 of them in one transaction fail with "out of shared memory", so one
file of 100,000 opening-stock rows cannot be imported today. The moves after opening
stock (receipts and adjustments) have no import of their own: each month's
are posted through the ledger's write path (``post_moves``, which every
receipt and adjustment takes), 5,000 moves a transaction. A month's moves go
in before its orders, and the clock the loader hands stockflow walks through
the year, so rows carry the dates they would have.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from stockflow.adapters.tables import (
    bins,
    locations,
    order_lines,
    orders,
    positions,
    skus,
    stock_moves,
)
from stockflow.bench.progress import Steps
from stockflow.bench.scale_data import CHANNELS, DataSet
from stockflow.bootstrap import Stockflow
from stockflow.orders.order_import import import_orders
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.imports import import_bins, import_locations, import_skus, import_stock
from stockflow.stock.ledger import post_moves
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.places import DEFAULT_BIN

MOVES_PER_TRANSACTION = 5_000
ACTOR = "bench"
_CHANNEL_RULES: dict[str, dict[str, Any]] = {
    "WEB": {"kind": "web", "priority": 5},
    "MARKET": {"kind": "marketplace", "priority": 3},
    "WHOLESALE": {"kind": "wholesale", "priority": 10, "allow_partial": True, "max_splits": 3},
    "PHONE": {"kind": "phone", "priority": 5},
}


class YearClock:
    """The loader's clock: a moment in the last year, moved on as the months are loaded."""

    def __init__(self, end: datetime) -> None:
        self.start = end - timedelta(days=365)
        self.at = self.start

    def __call__(self) -> datetime:
        return self.at

    def month(self, month: int, months: int, *, part: float = 0.0) -> None:
        """Set the clock to ``part`` of the way through ``month`` (1-based) of ``months``."""
        self.at = self.start + timedelta(days=365 * (month - 1 + part) / months)


@dataclass
class Kind:
    """How one kind of rows went in."""

    rows: int = 0
    seconds: float = 0.0
    rates: list[float] = field(default_factory=list)  # rows/s of each file or month
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, rows: int, seconds: float) -> None:
        self.rows += rows
        self.seconds += seconds
        self.rates.append(rows / seconds if seconds > 0 else 0.0)

    def report(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds, 1) if self.seconds > 0 else None,
            "files": len(self.rates),
            "first_rows_per_s": round(self.rates[0], 1) if self.rates else None,
            "last_rows_per_s": round(self.rates[-1], 1) if self.rates else None,
            **self.extra,
        }


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def load(sf: Stockflow, data: DataSet, clock: YearClock, bars: Steps) -> dict[str, Kind]:
    """Load ``data`` into ``sf`` (whose clock is ``clock``); how each kind went in."""
    kinds = {k: Kind() for k in ("skus", "locations", "bins", "stock", "moves", "orders")}
    catalogue: list[tuple[str, Path, Callable[..., Any]]] = [
        ("skus", data.skus, import_skus),
        ("locations", data.locations, import_locations),
        ("bins", data.bins, import_bins),
        *(("stock", path, import_stock) for path in data.stock_files),
    ]
    for kind, path, importer in catalogue:
        with bars.step(f"import {path.name}") as advance:
            summary = importer(sf, path, progress=advance)
        kinds[kind].add(summary.rows, summary.seconds)
    kinds["stock"].extra["what"] = "opening stock, a file per location: one receipt a row"
    for code in CHANNELS:
        sf.orders.add_channel(NewChannel(code, f"{code.title()} channel", **_CHANNEL_RULES[code]))
    months = data.size.months
    statuses: dict[str, int] = {}
    orders_done = moves_done = 0
    with (
        bars.step("moves", data.later_moves) as moved,
        bars.step("import orders", data.order_lines) as ordered,
    ):
        for month, (moves_file, orders_file) in enumerate(
            zip(data.move_files, data.order_files, strict=True), start=1
        ):
            clock.month(month, months)
            before = moves_done

            def posted(n: int, before: int = before) -> None:
                moved(before + n, data.later_moves)

            count, seconds = _post_month(sf, moves_file, month, months, clock, posted)
            moves_done += count
            kinds["moves"].add(count, seconds)
            clock.month(month, months, part=0.5)
            done = orders_done

            def advance(n: int, _total: int, done: int = done) -> None:
                ordered(done + n, data.order_lines)

            summary = import_orders(sf, orders_file, progress=advance)
            orders_done += summary.rows
            kinds["orders"].add(summary.rows, summary.seconds)
            for status, n in summary.by_status.items():
                statuses[status] = statuses.get(status, 0) + n
    kinds["moves"].extra["what"] = (
        f"receipts and adjustments through the ledger, {MOVES_PER_TRANSACTION:,} a transaction"
    )
    kinds["orders"].extra.update(what="order lines", orders=sum(statuses.values()))
    kinds["orders"].extra["by_status"] = dict(sorted(statuses.items()))
    return kinds


def _post_month(
    sf: Stockflow,
    path: Path,
    month: int,
    months: int,
    clock: YearClock,
    advance: Callable[[int], None],
) -> tuple[int, float]:
    """Post one month's moves, a transaction per chunk; (moves, seconds, reading included)."""
    started = time.perf_counter()
    chunks = list(_chunks(path, month))
    posted = 0
    for n, chunk in enumerate(chunks):
        clock.month(month, months, part=0.5 * n / max(1, len(chunks)))

        def write(conn: Connection, chunk: list[PostMove] = chunk) -> None:
            post_moves(conn, chunk, now=clock())

        sf.db.run(write)
        posted += len(chunk)
        advance(posted)
    return posted, time.perf_counter() - started


def _chunks(path: Path, month: int) -> Iterator[list[PostMove]]:
    reference = f"scale:month-{month:02d}"
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        chunk: list[PostMove] = []
        for row in rows:
            place = Place(row["location"], row["bin"])
            qty, kind = int(row["qty"]), row["kind"]
            if kind == "receipt":
                move = PostMove(row["sku"], qty, "receipt", target=place, actor=ACTOR,
                                reference=reference)  # fmt: skip
            elif kind == "adjustment in":
                move = PostMove(row["sku"], qty, "adjustment", target=place, actor=ACTOR,
                                reference=reference, note="found on a shelf check")  # fmt: skip
            else:
                move = PostMove(row["sku"], qty, "adjustment", source=place, actor=ACTOR,
                                reference=reference, note="damaged in handling")  # fmt: skip
            chunk.append(move)
            if len(chunk) == MOVES_PER_TRANSACTION:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def loaded_counts(sf: Stockflow) -> dict[str, int]:
    """What the database holds of the kinds a data set names."""
    queries = {
        "skus": select(func.count()).select_from(skus),
        "locations": select(func.count()).select_from(locations),
        "bins": select(func.count()).select_from(bins).where(bins.c.code != DEFAULT_BIN),
        "positions": select(func.count()).select_from(positions),
        "moves": select(func.count()).select_from(stock_moves),
        "orders": select(func.count()).select_from(orders),
        "order_lines": select(func.count()).select_from(order_lines),
    }
    with sf.db.read() as conn:
        return {name: int(conn.execute(q).scalar_one()) for name, q in queries.items()}
