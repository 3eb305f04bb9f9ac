"""A warehouse that buys and receives, for the receiving tests, and the books it must balance.

Hamburg (HAM) from ``order_shop`` gets storage bins in two zones: A-01 and
A-02 in zone A, B-01 in zone B (walk order A-01, A-02, B-01). Supplier ACME
delivers in five days.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update

from order_shop import add_skus, assert_books_balance
from stockflow.adapters.tables import (
    allocation_open_qty,
    allocations,
    bins,
    exceptions,
    locations,
    orders,
    positions,
    skus,
)
from stockflow.bootstrap import Stockflow
from stockflow.receiving.queries import PurchaseOrderView
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, NewSupplier, POLineIn
from stockflow.stock.rules.catalogue import NewBin


def stock_the_floor(sf: Stockflow, *codes: str) -> None:
    """SKUs ``codes``, storage bins A-01, A-02 (zone A), B-01 (zone B) at HAM, supplier ACME."""
    add_skus(sf, *codes)
    sf.add_bins(
        [
            NewBin("HAM", "A-01", "A", 1),
            NewBin("HAM", "A-02", "A", 2),
            NewBin("HAM", "B-01", "B", 3),
        ]
    )
    sf.receiving.add_supplier(NewSupplier("ACME", "Acme Fasteners", 5, "orders@acme.example"))


def set_capacity(sf: Stockflow, bin_code: str, capacity: int | None, location: str = "HAM") -> None:
    """Limit how many units a bin holds (None: no limit)."""
    place = select(locations.c.id).where(locations.c.code == location).scalar_subquery()
    with sf.db.write() as conn:
        conn.execute(
            update(bins)
            .where(bins.c.location_id == place, bins.c.code == bin_code)
            .values(capacity=capacity)
        )


def buy(sf: Stockflow, *lines: tuple[str, int], **fields: object) -> PurchaseOrderView:
    """A purchase order from ACME to HAM at 0.50 a unit; ``fields`` are further PO fields."""
    return sf.receiving.place_order(
        NewPurchaseOrder(
            "ACME",
            "HAM",
            tuple(POLineIn(sku, qty, Decimal("0.50")) for sku, qty in lines),
            **fields,  # type: ignore[arg-type]
        )
    )


def bins_of(sf: Stockflow, sku: str) -> dict[str, tuple[int, int]]:
    """(on hand, allocated) of a SKU per bin at HAM, bins holding or promising nothing left out."""
    out: dict[str, tuple[int, int]] = {}
    for p in sf.positions(sku=sku, location="HAM"):
        if p.on_hand or p.allocated:
            on_hand, allocated = out.get(p.bin, (0, 0))
            out[p.bin] = (on_hand + p.on_hand, allocated + p.allocated)
    return out


def held_for(sf: Stockflow, order_id: str) -> dict[str, int]:
    """Units an order's allocations hold open, per bin."""
    query = (
        select(bins.c.code, func.sum(allocation_open_qty))
        .join(positions, positions.c.bin_id == bins.c.id)
        .join(allocations, allocations.c.position_id == positions.c.id)
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .where(orders.c.id == order_id)
        .group_by(bins.c.code)
    )
    with sf.db.read() as conn:
        return {code: int(n) for code, n in conn.execute(query) if n}


def discrepancy_refs(sf: Stockflow) -> list[tuple[str | None, str | None]]:
    """(reference, SKU) of every receiving discrepancy in the queue, oldest first."""
    query = (
        select(exceptions.c.reference, skus.c.code)
        .outerjoin(skus, skus.c.id == exceptions.c.sku_id)
        .where(exceptions.c.kind == "receiving_discrepancy")
        .order_by(exceptions.c.id)
    )
    with sf.db.read() as conn:
        return [(ref, code) for ref, code in conn.execute(query)]


def assert_balanced(sf: Stockflow) -> None:
    """Ledger, positions, allocations and the order book agree (see ``order_shop``)."""
    assert_books_balance(sf)
