"""The return rules without a database: lifecycle, dispositions, returnable units, refunds."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from stockflow.errors import InvalidInput
from stockflow.returns import rules as returns
from stockflow.returns.rules import (
    Disposition,
    IllegalReturnStep,
    LinePart,
    LineProgress,
    RefundLine,
    ReturnEvent,
    ReturnStatus,
    disposition,
    fully_dealt_with,
    next_return_status,
    return_status,
    returnable_units,
    suggest_refund,
    uninspected,
)

S, E = ReturnStatus, ReturnEvent


@pytest.mark.parametrize(
    ("start", "event", "end"),
    [
        (S.AUTHORISED, E.RECEIVE, S.RECEIVED),
        (S.AUTHORISED, E.CANCEL, S.CANCELLED),
        (S.RECEIVED, E.RECEIVE, S.RECEIVED),
        (S.RECEIVED, E.INSPECT, S.RECEIVED),
        (S.RECEIVED, E.CLOSE, S.CLOSED),
    ],
)
def test_the_legal_steps(start: ReturnStatus, event: ReturnEvent, end: ReturnStatus) -> None:
    assert next_return_status(start.value, event) is end


@pytest.mark.parametrize(
    ("start", "event", "says"),
    [
        (S.AUTHORISED, E.INSPECT, "authorised cannot inspect; it can: cancel, receive"),
        (S.AUTHORISED, E.CLOSE, "authorised cannot close"),
        (S.RECEIVED, E.CANCEL, "received cannot cancel; it can: close, inspect, receive"),
        (S.CLOSED, E.RECEIVE, "it can: nothing, it is final"),
        (S.CANCELLED, E.RECEIVE, "it can: nothing, it is final"),
    ],
)
def test_every_other_step_is_refused_by_the_one_guard(
    start: ReturnStatus, event: ReturnEvent, says: str
) -> None:
    with pytest.raises(IllegalReturnStep, match=says) as refused:
        next_return_status(start.value, event)
    assert refused.value.field == "status"
    assert refused.value.status == 409


def test_closed_and_cancelled_are_final() -> None:
    for end in (S.CLOSED, S.CANCELLED):
        assert not [e for (s, e) in returns.RETURN_TRANSITIONS if s is end]


def test_dispositions_are_named_and_anything_else_lists_the_choices() -> None:
    assert disposition(" Restock ") is Disposition.RESTOCK
    assert {d.value for d in Disposition} == {"restock", "repair", "quarantine", "scrap"}
    with pytest.raises(InvalidInput, match="restock, repair, quarantine, scrap") as refused:
        disposition("resell")
    assert refused.value.field == "disposition"
    with pytest.raises(InvalidInput, match="unknown RMA status") as bad:
        return_status("lost")
    assert bad.value.field == "status"


def test_returnable_units_are_what_shipped_less_what_is_authorised() -> None:
    assert returnable_units({1: LinePart(1, shipped=3, authorised=0)}) == 3
    assert returnable_units({1: LinePart(1, shipped=3, authorised=2)}) == 1
    assert returnable_units({1: LinePart(1, shipped=3, authorised=3)}) == 0
    assert returnable_units({}) == 0


def test_a_kit_returns_as_many_whole_kits_as_its_scarcest_part_allows() -> None:
    # Two kits of 2 A + 1 B shipped; one A came back on its own already.
    kit = {1: LinePart(2, shipped=4, authorised=1), 2: LinePart(1, shipped=2, authorised=0)}
    assert returnable_units(kit) == 1
    assert returnable_units({1: LinePart(2, shipped=4, authorised=4)}) == 0


def test_the_refund_uses_the_sold_price_else_the_list_price_rounded_half_up() -> None:
    refund = suggest_refund(
        [
            RefundLine(2, Decimal("3.3325"), Decimal("9.99")),  # sold price wins: 6.665
            RefundLine(1, None, Decimal("1.50")),  # no sold price: list price
        ]
    )
    assert refund == Decimal("8.17")  # 8.165 rounds half up, not to even
    assert isinstance(refund, Decimal)
    assert suggest_refund([RefundLine(1, Decimal("0.125"), None)]) == Decimal("0.13")
    assert suggest_refund([RefundLine(1, Decimal("0.135"), None)]) == Decimal("0.14")


def test_a_line_with_no_price_at_all_suggests_nothing_for_it() -> None:
    assert suggest_refund([RefundLine(4, None, None)]) == Decimal("0.00")
    assert suggest_refund([]) == Decimal("0.00")
    assert str(suggest_refund([RefundLine(3, Decimal("0"), Decimal("5"))])) == "0.00"


def test_an_rma_is_dealt_with_when_all_arrived_and_all_arrived_is_inspected() -> None:
    assert fully_dealt_with([LineProgress(2, 2, 2), LineProgress(1, 1, 1)])
    assert not fully_dealt_with([LineProgress(2, 2, 2), LineProgress(1, 1, 0)])
    assert not fully_dealt_with([LineProgress(2, 1, 1)])
    assert uninspected([LineProgress(2, 2, 1), LineProgress(3, 3, 0)]) == 4


def test_the_rules_use_the_standard_library_only() -> None:
    source = Path(returns.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
    assert imported <= {"__future__", "collections", "dataclasses", "decimal", "enum", "stockflow"}
