"""Reservations: all-or-nothing, FEFO, buffers, idempotency, release and consume."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from helpers import add_sku, receive, setup_places
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    ExpiredLot,
    InsufficientStock,
    InvalidInput,
    ReservationClosed,
    UnknownLocation,
    UnknownReservation,
    UnknownSku,
)
from stockflow.stock.rules.commands import CloseLines, Reserve, ReserveLine


def free(sf: Stockflow, sku: str) -> int:
    return sf.atp([sku])[0].available


def test_multi_line_reservation_is_all_or_nothing(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    add_sku(sf, "B")
    receive(sf, "A", 10)
    receive(sf, "B", 2)
    with pytest.raises(InsufficientStock) as caught:
        sf.reserve(Reserve((ReserveLine("A", 5), ReserveLine("B", 3))))
    assert (caught.value.sku, caught.value.requested, caught.value.available) == ("B", 3, 2)
    assert caught.value.field == "lines[1].qty"
    assert (free(sf, "A"), free(sf, "B")) == (10, 2)
    view = sf.reserve(Reserve((ReserveLine("A", 5), ReserveLine("B", 2)), owner_ref="SO-1/1"))
    assert view.open_qty == 7
    assert (free(sf, "A"), free(sf, "B")) == (5, 0)
    assert sf.verify() == []


def test_fefo_takes_first_expiring_lot_and_never_an_expired_one(sf: Stockflow) -> None:
    setup_places(sf, "WH1", "WH2")
    add_sku(sf, "MILK", lot_tracked=True)
    today = date.today()
    receive(sf, "MILK", 5, "WH1", lot="LATE", expires_on=today + timedelta(days=30))
    receive(sf, "MILK", 5, "WH2", lot="SOON", expires_on=today + timedelta(days=3))
    receive(sf, "MILK", 5, "WH1", lot="GONE", expires_on=today - timedelta(days=1))
    view = sf.reserve(Reserve((ReserveLine("MILK", 7),)))
    assert [(a.lot, a.qty) for a in view.allocations] == [("SOON", 5), ("LATE", 2)]
    with pytest.raises(InsufficientStock) as caught:
        sf.reserve(Reserve((ReserveLine("MILK", 4),)))
    assert caught.value.available == 3
    with pytest.raises(ExpiredLot) as expired:
        sf.reserve(Reserve((ReserveLine("MILK", 1, lot="GONE"),)))
    assert expired.value.field == "lines[0].lot"


def test_safety_buffer_is_kept_out_of_reservations(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    receive(sf, "A", 10)
    sf.set_buffer(sku="A", location="WH1", qty=4)
    assert free(sf, "A") == 6
    with pytest.raises(InsufficientStock) as caught:
        sf.reserve(Reserve((ReserveLine("A", 7),)))
    assert caught.value.available == 6
    sf.reserve(Reserve((ReserveLine("A", 6),)))
    assert free(sf, "A") == 0


def test_location_pinned_line_only_uses_that_location(sf: Stockflow) -> None:
    setup_places(sf, "WH1", "WH2")
    add_sku(sf, "A")
    receive(sf, "A", 2, "WH1")
    receive(sf, "A", 9, "WH2")
    with pytest.raises(InsufficientStock) as caught:
        sf.reserve(Reserve((ReserveLine("A", 3, location="WH1"),)))
    assert (caught.value.available, caught.value.location) == (2, "WH1")
    view = sf.reserve(Reserve((ReserveLine("A", 3, location="WH2"),)))
    assert {a.location for a in view.allocations} == {"WH2"}


@pytest.mark.parametrize(
    ("lines", "error", "field"),
    [
        ((), InvalidInput, "lines"),
        ((ReserveLine("A", 0),), InvalidInput, "lines[0].qty"),
        ((ReserveLine("A", -1),), InvalidInput, "lines[0].qty"),
        ((ReserveLine("A", 1), ReserveLine("A", 1)), InvalidInput, "lines[1].sku"),
        ((ReserveLine("A", 1), ReserveLine("NOPE", 1)), UnknownSku, "lines[1].sku"),
        ((ReserveLine("A", 1, location="XX"),), UnknownLocation, "lines[0].location"),
    ],
)
def test_bad_reservations_name_the_line_and_hold_nothing(
    sf: Stockflow, lines: tuple[ReserveLine, ...], error: type[Exception], field: str
) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    receive(sf, "A", 5)
    with pytest.raises(error) as caught:
        sf.reserve(Reserve(lines))
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert free(sf, "A") == 5


def test_same_idempotency_key_reserves_once(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    receive(sf, "A", 5)
    cmd = Reserve((ReserveLine("A", 2),), idempotency_key="cart-42")
    first = sf.reserve(cmd)
    again = sf.reserve(cmd)
    assert (again.id, again.replayed) == (first.id, True)
    assert free(sf, "A") == 3


def test_release_and_consume_partially_then_fully(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "A")
    add_sku(sf, "B")
    receive(sf, "A", 10)
    receive(sf, "B", 10)
    view = sf.reserve(Reserve((ReserveLine("A", 4), ReserveLine("B", 4))))
    view = sf.consume(CloseLines(view.id, {"A": 3}, reference="SHIP-1"))
    assert view.status == "open"
    view = sf.release(CloseLines(view.id, {"B": 1}))
    assert view.open_qty == 4
    with pytest.raises(InvalidInput) as caught:
        sf.release(CloseLines(view.id, {"A": 2}))
    assert caught.value.field == "lines.A"
    view = sf.release(CloseLines(view.id))
    assert (view.status, view.open_qty) == ("closed", 0)
    with pytest.raises(ReservationClosed):
        sf.consume(CloseLines(view.id))
    with pytest.raises(UnknownReservation):
        sf.release(CloseLines("no-such-id"))
    [a] = sf.atp(["A"])
    [b] = sf.atp(["B"])
    assert (a.on_hand, a.allocated, a.available) == (7, 0, 7)
    assert (b.on_hand, b.allocated, b.available) == (10, 0, 10)
    assert sf.verify() == []
