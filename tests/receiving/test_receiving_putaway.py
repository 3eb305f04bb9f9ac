"""From the dock to the shelf, and out of quarantine, on SQLite and PostgreSQL.

Putaway suggests a bin by the SKU's home, its zone and the room bins have;
units already promised to orders take their allocation along; quarantined
units become sellable only when a person releases them, saying why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from order_shop import Clock, add_channel, open_shop, order
from receiving_shop import assert_balanced, bins_of, held_for, set_capacity, stock_the_floor
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    StockflowError,
    UnknownBin,
)
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.receiving.rules.putaway import ConfirmPutaway, NoPutawayRoom, QuarantineDecision
from stockflow.stock.ledger import MoveRecord
from stockflow.stock.rules.catalogue import NewSku
from stockflow.stock.rules.commands import Place, PostMove


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    """HAM with storage bins A-01, A-02 (zone A) and B-01 (zone B); SKUs BOLT, NUT; channel web."""
    sf = open_shop(db_url, Clock())
    stock_the_floor(sf, "BOLT", "NUT")
    add_channel(sf, "web")
    yield sf
    sf.close()


def on_dock(sf: Stockflow, sku: str, qty: int, *, damaged: int = 0) -> None:
    """A delivery without paperwork: good units to the dock, damaged ones to quarantine."""
    sf.receiving.receive(Receive((ReceiptLineIn(sku, qty, damaged),), location="HAM"))


def shelve(sf: Stockflow, sku: str, qty: int, bin_code: str) -> None:
    """Units straight into a bin (opening stock)."""
    sf.post_move(PostMove(sku, qty, "receipt", target=Place("HAM", bin_code)))


def put(sf: Stockflow, sku: str, qty: int, to_bin: str, **fields: object) -> ConfirmPutaway:
    return ConfirmPutaway("HAM", sku, qty, to_bin, **fields)  # type: ignore[arg-type]


# allocations travel with their units -----------------------------------------------------


def test_putaway_carries_promised_units_with_their_allocations(shop: Stockflow) -> None:
    sf = shop
    on_dock(sf, "BOLT", 8)
    promised = sf.orders.capture(order("web", ("BOLT", 5)))
    assert held_for(sf, promised.id) == {"DOCK": 5}

    # Six go up: the three free ones first, then three of the promised with their promise.
    first = sf.receiving.confirm_putaway(put(sf, "BOLT", 6, "A-01"))
    assert (first.qty, len(first.moves)) == (6, 2)
    assert bins_of(sf, "BOLT") == {"DOCK": (2, 2), "A-01": (6, 3)}
    assert held_for(sf, promised.id) == {"DOCK": 2, "A-01": 3}
    assert_balanced(sf)

    # The last two are all promised: nothing points at the empty dock afterwards.
    second = sf.receiving.confirm_putaway(put(sf, "BOLT", 2, "A-01"))
    assert second.qty == 2
    assert bins_of(sf, "BOLT") == {"A-01": (8, 5)}
    assert held_for(sf, promised.id) == {"A-01": 5}
    assert_balanced(sf)

    # The carried promise is a real one: cancelling the order frees the shelf.
    sf.orders.cancel(promised.id, reason="customer changed their mind")
    assert bins_of(sf, "BOLT") == {"A-01": (8, 0)}
    assert_balanced(sf)


def test_a_scan_other_than_the_suggestion_is_allowed_and_noted(shop: Stockflow) -> None:
    sf = shop
    on_dock(sf, "BOLT", 4)
    sf.receiving.set_home_bin(location="HAM", sku="BOLT", bin_code="A-01")
    done = sf.receiving.confirm_putaway(put(sf, "BOLT", 4, "B-01"))
    assert done.note == "scanned B-01; suggested A-01 (home bin of the SKU (no capacity limit))"
    assert bins_of(sf, "BOLT") == {"B-01": (4, 0)}


@pytest.mark.parametrize(
    ("to_bin", "fields", "error", "field"),
    [
        ("QUARANTINE", {}, InvalidInput, "to_bin"),
        ("DOCK", {"from_bin": "MAIN"}, InvalidInput, "to_bin"),
        ("Z-99", {}, UnknownBin, "to_bin"),
        ("A-01", {"lot": "L1"}, InvalidInput, "lot"),
        ("A-01", {"qty": 5}, InsufficientStock, "qty"),
        ("A-01", {"from_bin": "A-01"}, InvalidInput, "to_bin"),
    ],
)
def test_putaway_refuses_what_it_cannot_do_and_moves_nothing(
    shop: Stockflow,
    to_bin: str,
    fields: dict[str, object],
    error: type[StockflowError],
    field: str,
) -> None:
    sf = shop
    on_dock(sf, "BOLT", 4, damaged=1)
    given = dict(fields)
    qty = given.pop("qty", 2)
    with pytest.raises(error) as refused:
        sf.receiving.confirm_putaway(put(sf, "BOLT", qty, to_bin, **given))  # type: ignore[arg-type]
    assert refused.value.field == field
    assert bins_of(sf, "BOLT") == {"DOCK": (3, 0), "QUARANTINE": (1, 0)}


def test_a_retried_putaway_moves_once(shop: Stockflow) -> None:
    sf = shop
    on_dock(sf, "BOLT", 6)
    first = sf.receiving.confirm_putaway(put(sf, "BOLT", 4, "A-01", idempotency_key="scan-1"))
    again = sf.receiving.confirm_putaway(put(sf, "BOLT", 4, "A-01", idempotency_key="scan-1"))
    assert (again.reference, again.moves, again.replayed) == (first.reference, first.moves, True)
    assert bins_of(sf, "BOLT") == {"DOCK": (2, 0), "A-01": (4, 0)}
    with pytest.raises(IdempotencyKeyReused):
        sf.receiving.confirm_putaway(put(sf, "BOLT", 2, "A-01", idempotency_key="scan-1"))
    assert bins_of(sf, "BOLT") == {"DOCK": (2, 0), "A-01": (4, 0)}


def test_a_lot_goes_up_as_the_lot_it_came_in_as(shop: Stockflow) -> None:
    sf = shop
    sf.add_skus([NewSku("SERUM", "Serum", lot_tracked=True)])
    sf.receiving.receive(
        Receive(
            (ReceiptLineIn("SERUM", 5, lot="L7", expires_on=date(2032, 1, 31)),), location="HAM"
        )
    )
    with pytest.raises(InvalidInput) as no_lot:
        sf.receiving.confirm_putaway(put(sf, "SERUM", 5, "A-01"))
    assert no_lot.value.field == "lot"
    sf.receiving.confirm_putaway(put(sf, "SERUM", 5, "A-01", lot="L7"))
    [shelf] = [p for p in sf.positions(sku="SERUM") if p.on_hand]
    assert (shelf.bin, shelf.lot, shelf.expires_on, shelf.on_hand) == (
        "A-01",
        "L7",
        date(2032, 1, 31),
        5,
    )


# where to put it ---------------------------------------------------------------------------


def test_putaway_suggests_home_then_its_zone_then_the_walk(shop: Stockflow) -> None:
    sf = shop
    set_capacity(sf, "MAIN", 1)  # the catch-all bin takes no cartons
    for bin_code in ("A-01", "A-02"):
        set_capacity(sf, bin_code, 10)

    def suggest(qty: int) -> tuple[str, str]:
        found = sf.receiving.suggest_putaway(location="HAM", sku="BOLT", qty=qty)
        return found.bin, found.reason

    # No home, nothing stored: the first bin on the walk with room.
    assert suggest(5) == ("A-01", "no home bin; first on the walk with room (room for 10)")
    # A bin already holding the SKU wins over an earlier one on the walk.
    shelve(sf, "BOLT", 3, "A-02")
    assert suggest(5) == ("A-02", "no home bin; already holds the SKU (room for 7)")
    # The home bin comes first while it has room ...
    sf.receiving.set_home_bin(location="HAM", sku="BOLT", bin_code="A-01")
    shelve(sf, "NUT", 8, "A-01")
    assert suggest(2) == ("A-01", "home bin of the SKU (room for 2)")
    # ... then its zone, never another zone.
    assert suggest(5) == (
        "A-02",
        "home bin A-01 is full (room for 2); same zone A; already holds the SKU (room for 7)",
    )
    with pytest.raises(NoPutawayRoom) as full:
        suggest(8)
    assert (full.value.status, full.value.field) == (409, "qty")
    # No capacity means no limit.
    set_capacity(sf, "A-02", None)
    assert suggest(500)[0] == "A-02"
    on_dock(sf, "NUT", 1)
    with pytest.raises(InvalidInput) as not_storage:
        sf.receiving.set_home_bin(location="HAM", sku="BOLT", bin_code="DOCK")
    assert not_storage.value.field == "bin"


# quarantine ----------------------------------------------------------------------------------


def test_released_units_serve_a_waiting_order_and_scrapped_ones_leave(shop: Stockflow) -> None:
    sf = shop
    on_dock(sf, "BOLT", 3, damaged=3)
    waiting = sf.orders.capture(order("web", ("BOLT", 2)))
    assert waiting.status == "backordered"  # quarantined units are never promised

    def release(qty: int, note: str = "passed inspection", **fields: object) -> MoveRecord:
        return sf.receiving.release_from_quarantine(
            QuarantineDecision("HAM", "BOLT", qty, note, **fields)  # type: ignore[arg-type]
        )

    for qty, note, fields, field in (
        (2, " ", {"to_bin": "A-01"}, "note"),
        (2, "ok", {}, "to_bin"),
        (2, "ok", {"to_bin": "DOCK"}, "to_bin"),
        (2, "ok", {"to_bin": "A-01", "from_bin": "A-01"}, "from_bin"),
        (4, "ok", {"to_bin": "A-01"}, "qty"),
    ):
        with pytest.raises(StockflowError) as refused:
            release(qty, note, **fields)
        assert refused.value.field == field
    assert bins_of(sf, "BOLT") == {"QUARANTINE": (3, 0)}

    moved = release(2, to_bin="A-01", idempotency_key="q-1")
    again = release(2, to_bin="A-01", idempotency_key="q-1")
    assert (moved.reason, moved.note, moved.replayed) == ("move", "passed inspection", False)
    assert (again.id, again.replayed) == (moved.id, True)
    assert sf.orders.order(waiting.id).status == "allocated"
    assert held_for(sf, waiting.id) == {"A-01": 2}

    with pytest.raises(InvalidInput) as unexplained:
        sf.receiving.scrap_from_quarantine(QuarantineDecision("HAM", "BOLT", 1, ""))
    assert unexplained.value.field == "note"
    scrapped = sf.receiving.scrap_from_quarantine(
        QuarantineDecision("HAM", "BOLT", 1, "thread stripped")
    )
    assert (scrapped.reason, scrapped.note, scrapped.target) == ("scrap", "thread stripped", None)
    assert bins_of(sf, "BOLT") == {"A-01": (2, 2)}
    assert_balanced(sf)
