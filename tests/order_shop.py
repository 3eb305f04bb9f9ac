"""A small order-taking business for the order tests, and the books they must balance.

Three warehouses with real coordinates (Hamburg, Cologne, Munich), a clock the
test moves by hand, and the checks every order story ends with: ``verify`` is
clean, each position's allocated equals what open orders hold there, and no
finished order holds anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    order_lines,
    orders,
    positions,
    skus,
)
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel, NewCustomer
from stockflow.stock.rules.catalogue import NewLocation, NewSku
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn, Place, PostMove
from stockflow.stock.rules.order_lifecycle import OPEN_STATES

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)

# (latitude, longitude) of the warehouses and of the places customers live.
HAMBURG = (Decimal("53.550000"), Decimal("9.993000"))
COLOGNE = (Decimal("50.937500"), Decimal("6.960300"))
MUNICH = (Decimal("48.137100"), Decimal("11.575400"))
WAREHOUSES = {"HAM": HAMBURG, "CGN": COLOGNE, "MUC": MUNICH}

ADDRESS = "Marienplatz 1, 80331 Munich"


class Clock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def today(self) -> date:
        return self.now.date()


def open_shop(url: str, clock: Clock) -> Stockflow:
    """A stockflow on ``url`` with the three warehouses (and their bins) in place."""
    sf = Stockflow.open(url, migrate_schema=False, clock=clock)
    sf.add_locations(
        [
            NewLocation(code, f"Warehouse {code}", latitude=lat, longitude=lon)
            for code, (lat, lon) in WAREHOUSES.items()
        ]
    )
    return sf


def add_skus(sf: Stockflow, *codes: str, price: str | None = None) -> None:
    sf.add_skus(
        [
            NewSku(c, f"Item {c}", unit_price=None if price is None else Decimal(price))
            for c in codes
        ]
    )


def add_channel(sf: Stockflow, code: str, **rules: object) -> None:
    """A channel; ``rules`` are ``NewChannel`` fields (priority, max_splits...)."""
    sf.orders.add_channel(NewChannel(code, f"Channel {code}", **rules))  # type: ignore[arg-type]


def add_customer(sf: Stockflow, code: str, where: tuple[Decimal, Decimal] | None = None) -> None:
    lat, lon = where if where is not None else (None, None)
    sf.orders.add_customer(
        NewCustomer(code, f"Customer {code}", address=ADDRESS, latitude=lat, longitude=lon)
    )


def stock(
    sf: Stockflow,
    sku: str,
    qty: int,
    location: str = "HAM",
    *,
    lot: str | None = None,
    expires_on: date | None = None,
) -> None:
    """Receive ``qty`` units (backorders waiting for the SKU get their chance)."""
    target = Place(location, None, lot)
    sf.post_move(PostMove(sku, qty, "receipt", target=target, lot_expires_on=expires_on))


def order(
    channel: str,
    *lines: tuple[str, int],
    ship_to: str = ADDRESS,
    **fields: object,
) -> CaptureOrder:
    """An order of ``(sku, qty)`` lines; ``fields`` are further ``CaptureOrder`` fields."""
    return CaptureOrder(
        channel=channel,
        lines=tuple(OrderLineIn(sku, qty) for sku, qty in lines),
        ship_to=ship_to,
        **fields,  # type: ignore[arg-type]
    )


def allocated_at(sf: Stockflow, sku: str) -> dict[str, int]:
    """Units of a SKU allocated per location (locations with none left out)."""
    out: Counter[str] = Counter()
    for p in sf.positions(sku=sku):
        out[p.location] += p.allocated
    return {loc: q for loc, q in out.items() if q}


def free_of(sf: Stockflow, sku: str) -> int:
    """On hand less allocated of a SKU over every position."""
    return sum(p.on_hand - p.allocated for p in sf.positions(sku=sku))


def open_order_holdings(sf: Stockflow, states: Sequence[str]) -> dict[int, int]:
    """Units held per position by orders in ``states``, summed from the allocation rows."""
    open_qty = allocation_open_qty
    query = (
        select(allocations.c.position_id, func.sum(open_qty))
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .where(orders.c.status.in_(list(states)))
        .group_by(allocations.c.position_id)
    )
    with sf.db.read() as conn:
        return {int(pid): int(held) for pid, held in conn.execute(query) if held}


def assert_books_balance(sf: Stockflow) -> None:
    """The order book and the stock book agree, and the ledger agrees with both."""
    assert sf.verify() == []
    with sf.db.read() as conn:
        stored = {
            int(pid): (int(on_hand), int(allocated), code)
            for pid, on_hand, allocated, code in conn.execute(
                select(
                    positions.c.id, positions.c.on_hand, positions.c.allocated, skus.c.code
                ).join(skus, skus.c.id == positions.c.sku_id)
            )
        }
    held = open_order_holdings(sf, sorted(s.value for s in OPEN_STATES))
    for pid, (on_hand, allocated, code) in stored.items():
        assert allocated == held.get(pid, 0), f"{code} position {pid}"
        assert 0 <= allocated <= on_hand, f"{code} position {pid}"
    finished = ("cancelled", "closed", "shipped", "delivered")
    assert open_order_holdings(sf, finished) == {}
    assert cancelled_lines_holding(sf) == []


def cancelled_lines_holding(sf: Stockflow) -> list[tuple[str, int, int]]:
    """(order, line, units) for cancelled lines that still hold stock (kit parts included)."""
    open_qty = allocation_open_qty
    query = (
        select(order_lines.c.order_id, order_lines.c.line_no, func.sum(open_qty))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .join(
            allocations,
            (allocations.c.reservation_id == orders.c.reservation_id)
            & (allocations.c.line_no == order_lines.c.line_no),
        )
        .where(order_lines.c.cancelled_qty > 0)
        .group_by(order_lines.c.order_id, order_lines.c.line_no)
        .having(func.sum(open_qty) != 0)
    )
    with sf.db.read() as conn:
        return [(oid, int(line_no), int(held)) for oid, line_no, held in conn.execute(query)]
