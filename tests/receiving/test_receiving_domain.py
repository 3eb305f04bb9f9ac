"""The purchasing and putaway rules on their own: no database, milliseconds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from stockflow.errors import InvalidInput
from stockflow.receiving.rules.purchasing import (
    STOPPED_STATES,
    TRANSITIONS,
    Discrepancy,
    DiscrepancyKind,
    Expectation,
    IllegalPOTransition,
    NewAsn,
    NewPurchaseOrder,
    NewSupplier,
    POEvent,
    POLineIn,
    POStatus,
    ReceiptLineIn,
    Receive,
    discrepancies,
    expected_arrival,
    next_po_status,
    outstanding,
    receipt_event,
)
from stockflow.receiving.rules.putaway import (
    BinRoom,
    ConfirmPutaway,
    NoPutawayRoom,
    QuarantineDecision,
    choose_bin,
)

TODAY = date(2031, 3, 3)

# --- the purchase order's life ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "event", "after"),
    [
        ("open", POEvent.RECEIVE_PART, "partially_received"),
        ("open", POEvent.RECEIVE_ALL, "received"),
        ("partially_received", POEvent.RECEIVE_PART, "partially_received"),
        ("partially_received", POEvent.RECEIVE_ALL, "received"),
        ("received", POEvent.RECEIVE_ALL, "received"),
        ("received", POEvent.CLOSE, "closed"),
        ("open", POEvent.CLOSE, "closed"),
        ("partially_received", POEvent.CLOSE, "closed"),
        ("open", POEvent.CANCEL, "cancelled"),
        ("partially_received", POEvent.CANCEL, "cancelled"),
    ],
)
def test_legal_steps_of_a_purchase_order(status: str, event: POEvent, after: str) -> None:
    assert next_po_status(status, event) == POStatus(after)


def test_every_other_step_is_refused_by_the_one_guard() -> None:
    legal = set(TRANSITIONS)
    refused = [(s, e) for s in POStatus for e in POEvent if (s, e) not in legal]
    assert (POStatus.CLOSED, POEvent.RECEIVE_PART) in refused
    assert (POStatus.RECEIVED, POEvent.CANCEL) in refused
    for status, event in refused:
        with pytest.raises(IllegalPOTransition) as caught:
            next_po_status(status.value, event)
        assert (caught.value.status, caught.value.field) == (409, "status")
    with pytest.raises(IllegalPOTransition) as closed:
        next_po_status("closed", POEvent.RECEIVE_PART)
    assert (
        str(closed.value) == "field 'status': a purchase order that is closed cannot receive part"
    )
    # Nothing leaves a stopped order, and a stopped order takes nothing in.
    assert not [k for k in legal if k[0] in STOPPED_STATES]


def test_outstanding_units_never_go_below_zero() -> None:
    assert [outstanding(10, r) for r in (0, 4, 10, 13)] == [10, 6, 0, 0]


def test_a_receipt_is_complete_when_every_line_has_had_its_units() -> None:
    assert receipt_event([(10, 10), (5, 6)]) is POEvent.RECEIVE_ALL
    assert receipt_event([(10, 10), (5, 4)]) is POEvent.RECEIVE_PART
    assert receipt_event([(10, 0)]) is POEvent.RECEIVE_PART


def test_expected_arrival_is_today_plus_the_lead_time() -> None:
    assert expected_arrival(TODAY, 0) == TODAY
    assert expected_arrival(TODAY, 30) == date(2031, 4, 2)


# --- discrepancies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "received", "damaged", "found"),
    [
        (10, 10, 0, []),
        (10, 8, 0, [Discrepancy(DiscrepancyKind.SHORT, 2)]),
        (10, 12, 0, [Discrepancy(DiscrepancyKind.OVER, 2)]),
        (10, 10, 3, [Discrepancy(DiscrepancyKind.DAMAGED, 3)]),
        (10, 7, 1, [Discrepancy(DiscrepancyKind.SHORT, 3),
                    Discrepancy(DiscrepancyKind.DAMAGED, 1)]),
        (None, 5, 0, []),
        (None, 5, 5, [Discrepancy(DiscrepancyKind.DAMAGED, 5)]),
        (0, 4, 0, [Discrepancy(DiscrepancyKind.OVER, 4)]),
    ],
)  # fmt: skip
def test_discrepancies_of_a_line(
    expected: int | None, received: int, damaged: int, found: list[Discrepancy]
) -> None:
    assert discrepancies(expected=expected, received=received, damaged=damaged) == found


def test_discrepancy_messages_say_what_against_what() -> None:
    seen = Expectation("BOLT", "PO PO-1 line 2", 10, 7, 1, "quarantine bin Q at HAM")
    assert [m for _, m in seen.messages("R-1")] == [
        "Receipt R-1: SKU BOLT short by 3 against PO PO-1 line 2 (expected 10, received 7)",
        "Receipt R-1: 1 of 7 units of SKU BOLT arrived damaged; held in quarantine bin Q at HAM",
    ]
    stray = Expectation("NUT", "PO PO-1", 0, 4, 0)
    assert [m for _, m in stray.messages("R-2")] == [
        "Receipt R-2: 4 units of SKU NUT arrived unannounced: not on PO PO-1"
    ]


# --- commands -----------------------------------------------------------------------------


def test_a_supplier_is_checked() -> None:
    assert NewSupplier(" ACME ", "", 5, " buy@acme.example ").checked() == NewSupplier(
        "ACME", "ACME", 5, "buy@acme.example"
    )
    for bad, field in (
        (NewSupplier("AC ME", "x"), "code"),
        (NewSupplier("ACME", "x", -1), "lead_time_days"),
        (NewSupplier("ACME", "x", 3651), "lead_time_days"),
        (NewSupplier("ACME", "x", 1, "not-an-address"), "email"),
    ):
        with pytest.raises(InvalidInput) as refused:
            bad.checked()
        assert refused.value.field == field


@pytest.mark.parametrize(
    ("lines", "expected_on", "field"),
    [
        ((), None, "lines"),
        ((POLineIn(" ", 1, Decimal(1)),), None, "lines[0].sku"),
        ((POLineIn("A", 1, Decimal(1)), POLineIn("B", 0, Decimal(1))), None, "lines[1].qty"),
        ((POLineIn("A", 1, Decimal("-0.01")),), None, "lines[0].unit_cost"),
        ((POLineIn("A", 1, Decimal("NaN")),), None, "lines[0].unit_cost"),
        ((POLineIn("A", 1, 1.5),), None, "lines[0].unit_cost"),  # type: ignore[arg-type]
        ((POLineIn("A", 1, Decimal(1)),), date(2031, 3, 2), "expected_on"),
    ],
)
def test_a_purchase_order_names_the_line_at_fault(
    lines: tuple[POLineIn, ...], expected_on: date | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        NewPurchaseOrder("ACME", "HAM", lines, expected_on=expected_on).checked(today=TODAY)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        (Receive(()), "lines"),
        (Receive((ReceiptLineIn("A", 1),)), "location"),
        (Receive((ReceiptLineIn("A", 0),), location="HAM"), "lines[0].received_qty"),
        (Receive((ReceiptLineIn("A", 0),), po_id="PO-1"), "lines"),
        (Receive((ReceiptLineIn("A", 1), ReceiptLineIn("", 1)), po_id="PO-1"), "lines[1].sku"),
        (Receive((ReceiptLineIn("A", -1),), po_id="PO-1"), "lines[0].received_qty"),
        (Receive((ReceiptLineIn("A", 1, 2),), po_id="PO-1"), "lines[0].damaged_qty"),
        (Receive((ReceiptLineIn("A", True),), po_id="PO-1"), "lines[0].received_qty"),
        (Receive((ReceiptLineIn("A", 1, po_line_no=0),), po_id="PO-1"), "lines[0].po_line_no"),
    ],
)
def test_a_receipt_names_the_line_at_fault(cmd: Receive, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        cmd.checked()
    assert refused.value.field == field


def test_a_receipt_against_a_document_may_say_nothing_came_of_a_line() -> None:
    cmd = Receive((ReceiptLineIn("A", 0), ReceiptLineIn(" B ", 2, lot=" ")), po_id="PO-1")
    checked = cmd.checked()
    assert [(ln.sku, ln.received_qty, ln.lot) for ln in checked.lines] == [
        ("A", 0, None),
        ("B", 2, None),
    ]


def test_an_asn_names_the_line_at_fault() -> None:
    from stockflow.receiving.rules.purchasing import AsnLineIn

    with pytest.raises(InvalidInput) as refused:
        NewAsn("PO-1", (AsnLineIn(1, 5), AsnLineIn(2, 0))).checked()
    assert refused.value.field == "lines[1].qty"
    with pytest.raises(InvalidInput):
        NewAsn("PO-1", ()).checked()


# --- putaway --------------------------------------------------------------------------------


def room(bin_id: int, zone: str | None, capacity: int | None, used: int = 0, *,
         holds: bool = False, sequence: int | None = None) -> BinRoom:  # fmt: skip
    code = f"{zone or 'X'}-{bin_id:02d}"
    return BinRoom(
        bin_id, code, zone, bin_id if sequence is None else sequence, capacity, used, holds
    )


BINS = [
    room(1, "A", 10, 9),  # home, nearly full
    room(2, "A", 10, 0),
    room(3, "A", 10, 4, holds=True),
    room(4, "B", None, 0, sequence=0),
]


def test_the_home_bin_wins_while_it_has_room() -> None:
    assert choose_bin(BINS, home_bin_id=1, qty=1).bin == "A-01"


def test_a_full_home_sends_units_to_its_zone_preferring_bins_with_the_sku() -> None:
    found = choose_bin(BINS, home_bin_id=1, qty=5)
    assert (found.bin, found.reason) == (
        "A-03",
        "home bin A-01 is full (room for 1); same zone A; already holds the SKU (room for 6)",
    )
    assert choose_bin(BINS, home_bin_id=1, qty=7).bin == "A-02"  # A-03 is too full for 7
    with pytest.raises(NoPutawayRoom):
        choose_bin(BINS, home_bin_id=1, qty=11)  # zone B has room, but it is not the home zone


def test_without_a_home_any_zone_goes_by_sku_then_walk_order() -> None:
    assert choose_bin(BINS, home_bin_id=None, qty=5).bin == "A-03"
    assert choose_bin(BINS, home_bin_id=None, qty=7).bin == "B-04"  # first on the walk
    assert choose_bin(BINS, home_bin_id=None, qty=10**6).reason == (
        "no home bin; first on the walk with room (no capacity limit)"
    )
    with pytest.raises(NoPutawayRoom):
        choose_bin([], home_bin_id=None, qty=1)


def test_putaway_and_quarantine_commands_are_checked() -> None:
    with pytest.raises(InvalidInput) as no_scan:
        ConfirmPutaway("HAM", "A", 1, " ").checked()
    assert no_scan.value.field == "to_bin"
    with pytest.raises(InvalidInput) as no_units:
        ConfirmPutaway("HAM", "A", 0, "A-01").checked()
    assert no_units.value.field == "qty"
    for cmd, release, field in (
        (QuarantineDecision("HAM", "A", 1, " ", to_bin="A-01"), True, "note"),
        (QuarantineDecision("HAM", "A", 1, "ok"), True, "to_bin"),
        (QuarantineDecision("HAM", "A", 1, "ok", to_bin="A-01"), False, "to_bin"),
        (QuarantineDecision("HAM", "A", -1, "ok"), False, "qty"),
    ):
        with pytest.raises(InvalidInput) as refused:
            cmd.checked(release=release)
        assert refused.value.field == field
