"""Small builders shared by tests: a few places and SKUs, stock on hand."""

from __future__ import annotations

from datetime import date

from stockflow.bootstrap import Stockflow
from stockflow.domain.catalogue import NewBin, NewLocation, NewSku
from stockflow.domain.commands import Place, PostMove


def setup_places(sf: Stockflow, *locations: str) -> None:
    """Warehouses with the given codes, each with bins A-01 and A-02."""
    codes = locations or ("WH1",)
    sf.add_locations([NewLocation(code, f"Warehouse {code}") for code in codes])
    sf.add_bins(
        [NewBin(code, b, "A", n) for code in codes for n, b in enumerate(("A-01", "A-02"), 1)]
    )


def add_sku(sf: Stockflow, code: str, *, lot_tracked: bool = False) -> None:
    """One SKU."""
    sf.add_skus([NewSku(code, f"Item {code}", lot_tracked=lot_tracked)])


def receive(
    sf: Stockflow,
    sku: str,
    qty: int,
    location: str = "WH1",
    *,
    bin: str | None = None,
    lot: str | None = None,
    expires_on: date | None = None,
) -> None:
    """Receive ``qty`` units into a place."""
    sf.post_move(
        PostMove(sku, qty, "receipt", target=Place(location, bin, lot), lot_expires_on=expires_on)
    )
