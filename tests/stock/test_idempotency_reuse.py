"""A retried request takes effect once; a key reused for a different request is refused."""

from __future__ import annotations

import pytest

from helpers import add_sku, receive, setup_places
from stockflow.bootstrap import Stockflow
from stockflow.errors import IdempotencyKeyReused
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.rules.commands import (
    CaptureOrder,
    OrderLineIn,
    Place,
    PostMove,
    Reserve,
    ReserveLine,
)


def test_move_key_reused_for_another_move_is_refused_and_changes_nothing(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    sf.post_move(PostMove("A", 5, "receipt", target=Place("WH1"), idempotency_key="k-1"))
    with pytest.raises(IdempotencyKeyReused) as caught:
        sf.post_move(PostMove("A", 6, "receipt", target=Place("WH1"), idempotency_key="k-1"))
    assert caught.value.field == "Idempotency-Key"
    assert sf.atp(["A"])[0].on_hand == 5


def test_reservation_key_reused_for_other_lines_is_refused(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    receive(sf, "A", 10)
    first = sf.reserve(Reserve((ReserveLine("A", 2),), idempotency_key="cart-1"))
    again = sf.reserve(Reserve((ReserveLine("A", 2),), idempotency_key="cart-1"))
    assert (again.id, again.replayed) == (first.id, True)
    with pytest.raises(IdempotencyKeyReused):
        sf.reserve(Reserve((ReserveLine("A", 3),), idempotency_key="cart-1"))
    assert sf.atp(["A"])[0].allocated == 2


def test_order_external_id_reused_for_a_different_order_is_refused(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    receive(sf, "A", 10)
    sf.orders.add_channel(NewChannel("WEB", "Web"))
    order = CaptureOrder(
        "WEB", (OrderLineIn("A", 1),), ship_to="1 Main St, Town", external_id="W-1"
    )
    first = sf.orders.capture(order)
    assert sf.orders.capture(order).id == first.id
    changed = CaptureOrder(
        "WEB", (OrderLineIn("A", 4),), ship_to="1 Main St, Town", external_id="W-1"
    )
    with pytest.raises(IdempotencyKeyReused):
        sf.orders.capture(changed)
    assert sf.atp(["A"])[0].allocated == 1
    assert sf.verify() == []
