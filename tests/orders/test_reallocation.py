"""Manual re-allocation: an order gives back what it holds and is allocated again by the rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from helpers import add_sku, api_client, receive
from stockflow.api.app import create_app
from stockflow.bootstrap import Stockflow
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.rules.catalogue import NewLocation
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn
from stockflow.stock.rules.order_lifecycle import IllegalTransition


def test_reallocation_moves_an_order_to_the_nearest_location_once_it_has_stock(
    sf: Stockflow,
) -> None:
    sf.add_locations(
        [
            NewLocation("FAR", "Far away", latitude=Decimal("40.0"), longitude=Decimal("-3.7")),
            NewLocation("NEAR", "Near by", latitude=Decimal("52.5"), longitude=Decimal("13.4")),
        ]
    )
    add_sku(sf, "A")
    receive(sf, "A", 5, "FAR")
    sf.orders.add_channel(NewChannel("WEB", "Web"))
    order = sf.orders.capture(
        CaptureOrder(
            "WEB",
            (OrderLineIn("A", 3),),
            ship_to="Unter den Linden 1, Berlin",
            ship_to_latitude=Decimal("52.52"),
            ship_to_longitude=Decimal("13.39"),
        )
    )
    assert {p.location: p.allocated for p in sf.positions(sku="A")} == {"FAR": 3}
    receive(sf, "A", 5, "NEAR")
    again = sf.orders.reallocate(order.id, actor="cs-agent")
    assert again.status == "allocated"
    assert {p.location: p.allocated for p in sf.positions(sku="A")} == {"FAR": 0, "NEAR": 3}
    assert "re-allocation requested" in again.decisions
    assert sf.verify() == []


def test_reallocating_a_cancelled_order_is_an_illegal_transition(sf: Stockflow) -> None:
    sf.add_locations([NewLocation("WH1", "Main")])
    add_sku(sf, "A")
    receive(sf, "A", 5)
    sf.orders.add_channel(NewChannel("WEB", "Web"))
    order = sf.orders.capture(
        CaptureOrder("WEB", (OrderLineIn("A", 1),), ship_to="1 Main St, Town")
    )
    sf.orders.cancel(order.id, reason="test")
    with pytest.raises(IllegalTransition):
        sf.orders.reallocate(order.id)
    response = api_client(create_app(sf)).post(f"/api/v1/orders/{order.id}/reallocate")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert sf.verify() == []
