"""Stock moves: every change is one ledger row and positions follow it exactly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from helpers import add_sku, receive, setup_places
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    Conflict,
    InactiveSku,
    InsufficientStock,
    InvalidInput,
    UnknownBin,
    UnknownLocation,
    UnknownSku,
)
from stockflow.stock.rules.commands import Place, PostMove


def on_hand(sf: Stockflow, sku: str) -> dict[tuple[str, str, str | None], int]:
    return {(p.location, p.bin, p.lot): p.on_hand for p in sf.positions(sku=sku)}


def test_receive_putaway_ship_keeps_positions_equal_to_ledger(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    receive(sf, "BOLT", 40)
    sf.post_move(PostMove("BOLT", 25, "putaway", source=Place("WH1"), target=Place("WH1", "A-01")))
    sf.post_move(PostMove("BOLT", 5, "ship", source=Place("WH1", "A-01"), reference="SO-1"))
    assert on_hand(sf, "BOLT") == {("WH1", "A-01", None): 20, ("WH1", "MAIN", None): 15}
    assert sf.verify() == []


def test_moving_more_than_is_free_is_refused_and_changes_nothing(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    receive(sf, "BOLT", 3)
    with pytest.raises(InsufficientStock) as caught:
        sf.post_move(PostMove("BOLT", 4, "move", source=Place("WH1"), target=Place("WH1", "A-01")))
    assert caught.value.available == 3
    assert caught.value.field == "qty"
    assert on_hand(sf, "BOLT") == {("WH1", "MAIN", None): 3}
    assert sf.verify() == []


@pytest.mark.parametrize(
    ("cmd", "error", "field"),
    [
        (PostMove("NOPE", 1, "receipt", target=Place("WH1")), UnknownSku, "sku"),
        (PostMove("BOLT", 1, "receipt", target=Place("XX")), UnknownLocation, "to.location"),
        (PostMove("BOLT", 1, "receipt", target=Place("WH1", "Z-99")), UnknownBin, "to.bin"),
        (PostMove("BOLT", 0, "receipt", target=Place("WH1")), InvalidInput, "qty"),
        (PostMove("BOLT", -5, "receipt", target=Place("WH1")), InvalidInput, "qty"),
        (PostMove("BOLT", 10**12, "receipt", target=Place("WH1")), InvalidInput, "qty"),
        (PostMove("BOLT", 1, "teleport", target=Place("WH1")), InvalidInput, "reason"),
        (PostMove("BOLT", 1, "ship", target=Place("WH1")), InvalidInput, "reason"),
        (PostMove("BOLT", 1, "adjustment", target=Place("WH1")), InvalidInput, "note"),
        (PostMove("BOLT", 1, "receipt", target=Place("WH1", lot="L1")), InvalidInput, "to.lot"),
    ],
)
def test_bad_moves_name_the_field_and_change_nothing(
    sf: Stockflow, cmd: PostMove, error: type[Exception], field: str
) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    with pytest.raises(error) as caught:
        sf.post_move(cmd)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert sf.positions(sku="BOLT") == []
    assert sf.verify() == []


def test_inactive_sku_takes_no_receipt_but_can_still_ship(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "OLD")
    receive(sf, "OLD", 2)
    sf.set_sku_active("OLD", False)
    with pytest.raises(InactiveSku):
        receive(sf, "OLD", 1)
    sf.post_move(PostMove("OLD", 2, "ship", source=Place("WH1")))
    assert on_hand(sf, "OLD") == {("WH1", "MAIN", None): 0}


def test_lot_tracked_sku_needs_a_lot_and_keeps_its_expiry(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "MILK", lot_tracked=True)
    with pytest.raises(InvalidInput) as caught:
        receive(sf, "MILK", 1)
    assert caught.value.field == "to.lot"
    best_before = date.today() + timedelta(days=10)
    receive(sf, "MILK", 5, lot="L1", expires_on=best_before)
    with pytest.raises(Conflict) as clash:
        receive(sf, "MILK", 5, lot="L1", expires_on=best_before + timedelta(days=1))
    assert clash.value.field == "expires_on"
    [position] = sf.positions(sku="MILK")
    assert (position.lot, position.expires_on, position.on_hand) == ("L1", best_before, 5)


def test_same_idempotency_key_posts_once(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    cmd = PostMove("BOLT", 7, "receipt", target=Place("WH1"), idempotency_key="rcpt-1")
    first = sf.post_move(cmd)
    again = sf.post_move(cmd)
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert on_hand(sf, "BOLT") == {("WH1", "MAIN", None): 7}


def test_ledger_rows_cannot_be_rewritten(sf: Stockflow) -> None:
    setup_places(sf)
    add_sku(sf, "BOLT")
    receive(sf, "BOLT", 1)
    for statement in ("UPDATE stock_moves SET qty = 99", "DELETE FROM stock_moves"):
        with pytest.raises(DBAPIError, match="append-only"), sf.db.write() as conn:
            conn.execute(text(statement))
    assert sf.verify() == []


def test_allow_negative_location_may_ship_what_it_has_not_received(sf: Stockflow) -> None:
    from stockflow.stock.rules.catalogue import NewLocation

    setup_places(sf)
    sf.add_locations([NewLocation("DROP", "Drop-ship", allow_negative=True)])
    add_sku(sf, "BOLT")
    sf.post_move(PostMove("BOLT", 3, "ship", source=Place("DROP")))
    assert on_hand(sf, "BOLT") == {("DROP", "MAIN", None): -3}
    assert sf.verify() == []
