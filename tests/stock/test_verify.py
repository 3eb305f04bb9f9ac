"""``verify`` finds drift: stored totals tampered with behind stockflow's back.

Each test corrupts the database directly (as a bad migration, a manual fix or a
bug would) and checks that verify names the invariant, the position and the
numbers; the CLI must exit 1 on drift and 0 when all is well.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from helpers import add_sku, receive, setup_places
from stockflow.bootstrap import Stockflow
from stockflow.stock.queries.verify import Drift
from stockflow.stock.rules.catalogue import NewLocation
from stockflow.stock.rules.commands import CloseLines, Place, PostMove, Reserve, ReserveLine


@pytest.fixture
def books(sf: Stockflow) -> dict[str, str]:
    """A holds 10 in WH1/MAIN with 4 reserved; MILK lot L1 holds 5 in WH1/A-01.

    Returns the ids of the open reservation and of a released (closed) one.
    """
    setup_places(sf)
    add_sku(sf, "A")
    add_sku(sf, "MILK", lot_tracked=True)
    receive(sf, "A", 10)
    receive(sf, "MILK", 5, bin="A-01", lot="L1", expires_on=date.today() + timedelta(days=9))
    held = sf.reserve(Reserve((ReserveLine("A", 4),)))
    gone = sf.reserve(Reserve((ReserveLine("A", 2),)))
    sf.release(CloseLines(gone.id))
    assert sf.verify() == []
    return {"open": held.id, "closed": gone.id}


def tamper(sf: Stockflow, *statements: str, **params: object) -> None:
    with sf.db.write() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


A_MAIN = "position_id = (SELECT id FROM positions WHERE lot_code = '' LIMIT 1)"
A_POSITION = "id = (SELECT id FROM positions WHERE lot_code = '' LIMIT 1)"


def shape(drift: list[Drift]) -> list[tuple[str, str, int, int]]:
    return sorted((d.invariant, d.subject, d.expected, d.actual) for d in drift)


def test_on_hand_off_the_ledger_is_i1(sf: Stockflow, books: dict[str, str]) -> None:
    tamper(sf, f"UPDATE positions SET on_hand = on_hand + 3 WHERE {A_POSITION}")
    [drift] = sf.verify()
    assert (drift.invariant, drift.subject, drift.expected, drift.actual) == (
        "I1",
        "A @ WH1/MAIN",
        10,
        13,
    )
    assert drift.message == "A @ WH1/MAIN: on hand 13, ledger says 10"


def test_drift_on_a_lot_position_names_the_lot(sf: Stockflow, books: dict[str, str]) -> None:
    tamper(sf, "UPDATE positions SET on_hand = 1 WHERE lot_code = 'L1'")
    assert shape(sf.verify()) == [("I1", "MILK @ WH1/A-01 lot L1", 5, 1)]


def test_on_hand_below_what_is_allocated_is_i1_and_i2(sf: Stockflow, books: dict[str, str]) -> None:
    tamper(sf, f"UPDATE positions SET on_hand = 3 WHERE {A_POSITION}")
    assert shape(sf.verify()) == [("I1", "A @ WH1/MAIN", 10, 3), ("I2", "A @ WH1/MAIN", 3, 4)]


def test_allocations_beyond_on_hand_are_i2_even_when_they_add_up(
    sf: Stockflow, books: dict[str, str]
) -> None:
    # Someone allocated past the lock: allocation rows and the position agree
    # with each other (I3 holds) and with the ledger (I1 holds); only I2 breaks.
    tamper(
        sf,
        f"UPDATE allocations SET qty = qty + 8 WHERE reservation_id = :rid AND {A_MAIN}",
        f"UPDATE positions SET allocated = allocated + 8 WHERE {A_POSITION}",
        rid=books["open"],
    )
    [drift] = sf.verify()
    assert (drift.invariant, drift.expected, drift.actual) == ("I2", 10, 12)
    assert drift.message == "A @ WH1/MAIN: allocated 12 exceeds on hand 10"


def test_a_location_allowed_to_go_negative_is_not_oversold(sf: Stockflow) -> None:
    sf.add_locations([NewLocation("DROP", "Drop-ship", allow_negative=True)])
    add_sku(sf, "A")
    sf.post_move(PostMove("A", 3, "ship", source=Place("DROP")))
    assert shape(sf.verify()) == []
    tamper(sf, "UPDATE positions SET on_hand = on_hand + 1")
    assert shape(sf.verify()) == [("I1", "A @ DROP/MAIN", -3, -2)]


@pytest.mark.parametrize(("change", "actual"), [(-1, 3), (+2, 6)], ids=["lost", "ghost"])
def test_allocated_off_the_open_allocations_is_i3(
    sf: Stockflow, books: dict[str, str], change: int, actual: int
) -> None:
    tamper(sf, f"UPDATE positions SET allocated = allocated + :d WHERE {A_POSITION}", d=change)
    [drift] = sf.verify()
    assert (drift.invariant, drift.subject, drift.expected, drift.actual) == (
        "I3",
        "A @ WH1/MAIN",
        4,
        actual,
    )
    assert drift.message == f"A @ WH1/MAIN: allocated {actual}, open allocations hold 4"


def test_a_closed_reservation_still_holding_stock_is_i3(
    sf: Stockflow, books: dict[str, str]
) -> None:
    tamper(sf, "UPDATE reservations SET status = 'closed' WHERE id = :rid", rid=books["open"])
    assert shape(sf.verify()) == [("I3", f"reservation {books['open']}", 0, 4)]


def test_an_allocation_reopened_under_a_closed_reservation_is_i3(
    sf: Stockflow, books: dict[str, str]
) -> None:
    # The position total matches its allocation rows again, so only the
    # reservation's status gives the ghost away.
    tamper(
        sf,
        "UPDATE allocations SET released_qty = 0 WHERE reservation_id = :rid",
        f"UPDATE positions SET allocated = allocated + 2 WHERE {A_POSITION}",
        rid=books["closed"],
    )
    [drift] = sf.verify()
    assert (drift.invariant, drift.subject, drift.expected, drift.actual) == (
        "I3",
        f"reservation {books['closed']}",
        0,
        2,
    )
    assert drift.message == f"reservation {books['closed']} is closed but still holds 2"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "stockflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_cli_verify_exits_0_when_clean_and_1_on_drift(
    sf: Stockflow, books: dict[str, str], db_url: str
) -> None:
    clean = run_cli("verify", "--db", db_url)
    assert clean.returncode == 0, clean.stderr
    assert "agree" in clean.stdout
    tamper(
        sf,
        f"UPDATE positions SET on_hand = on_hand + 3 WHERE {A_POSITION}",
        "UPDATE reservations SET status = 'closed' WHERE id = :rid",
        rid=books["open"],
    )
    drifted = run_cli("verify", "--db", db_url)
    assert drifted.returncode == 1
    assert "I1 A @ WH1/MAIN: on hand 13, ledger says 10" in drifted.stderr
    assert f"I3 reservation {books['open']} is closed but still holds 4" in drifted.stderr
    assert "2 problem(s)" in drifted.stderr
