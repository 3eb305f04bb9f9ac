"""The audit trail: one row per command, written in the transaction that made the change."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import func, select

from helpers import add_sku, receive, run_in_threads, setup_places
from stockflow.adapters import audit
from stockflow.adapters.tables import orders
from stockflow.bootstrap import Stockflow
from stockflow.errors import InsufficientStock
from stockflow.orders.rules.parties import NewChannel
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn, Reserve, ReserveLine


def acting(command: str) -> audit.Acting:
    return audit.Acting(actor="ops", role="admin", via="cli", command=command)


def test_a_command_of_many_transactions_and_desk_calls_is_recorded_once(sf: Stockflow) -> None:
    setup_places(sf, "WH1")
    add_sku(sf, "A")
    receive(sf, "A", 5, "WH1")
    with audit.acting_as(acting("stockflow demo")):
        sf.reserve(Reserve((ReserveLine("A", 1),)))
        sf.reserve(Reserve((ReserveLine("A", 1),)))
        receive(sf, "A", 1, "WH1")
    with audit.acting_as(acting("stockflow other")):
        receive(sf, "A", 1, "WH1")
    assert [(e.command, e.via) for e in sf.access.audit()] == [
        ("stockflow other", "cli"),
        ("stockflow demo", "cli"),
    ]


def test_a_refused_command_leaves_no_row_and_the_next_one_is_recorded(sf: Stockflow) -> None:
    setup_places(sf, "WH1")
    add_sku(sf, "A")
    with audit.acting_as(acting("stockflow reserve")) as first:
        with pytest.raises(InsufficientStock):
            sf.reserve(Reserve((ReserveLine("A", 1),)))
        assert first is not None
        assert not first.recorded
    assert list(sf.access.audit()) == []
    receive(sf, "A", 1, "WH1")  # nobody is acting: no row
    assert list(sf.access.audit()) == []


def test_each_caller_of_a_reservation_batch_gets_its_own_row_and_refusals_none(
    sf: Stockflow,
) -> None:
    setup_places(sf, "WH1")
    add_sku(sf, "A")
    receive(sf, "A", 10, "WH1")

    def caller(n: int) -> None:
        who = audit.Acting(actor=f"c{n}", role="sales", via="token", command="r")
        with audit.acting_as(who), contextlib.suppress(InsufficientStock):
            sf.reserve(Reserve((ReserveLine("A", 1),)))

    run_in_threads(24, caller)
    trail = sf.access.audit(limit=1000)
    assert len(trail) == 10
    assert len({e.actor for e in trail}) == 10
    assert {(e.outcome, e.command, e.via) for e in trail} == {("done", "r", "token")}
    assert sf.verify() == []


def test_each_captured_order_of_a_batch_is_recorded_once_with_its_caller(sf: Stockflow) -> None:
    setup_places(sf, "WH1")
    add_sku(sf, "A")
    receive(sf, "A", 5, "WH1")
    sf.orders.add_channel(NewChannel("WEB", "Web", ship_from=("WH1",)))

    def caller(n: int) -> None:
        who = audit.Acting(actor=f"c{n % 4}", role="sales", via="token", command=f"o{n}")
        order = CaptureOrder("WEB", (OrderLineIn("A", 1),), "1 Dock Rd", external_id=f"E{n % 8}")
        with audit.acting_as(who):
            sf.orders.capture(order)

    run_in_threads(16, caller)  # 8 orders, each sent twice: the second is a replay
    trail = sf.access.audit(limit=1000)
    with sf.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == 8
    assert len(trail) == 16  # one row per request, replays included
    assert {e.command for e in trail} == {f"o{n}" for n in range(16)}
