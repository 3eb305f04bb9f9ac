"""Returns as customer service and the returns desk live them, on both databases.

An order ships; the customer sends some of it back; the units arrive on hand
but not available; inspection puts one back on the shelf (a waiting order
takes it), quarantines one and writes one off. Each story ends with the books
balanced.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from helpers import run_in_threads
from order_shop import Clock, add_channel, add_skus, assert_books_balance, open_shop, order, stock
from stockflow.adapters.parcels import Parcel
from stockflow.adapters.tables import bins, home_bins, locations, outbox, skus
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    StockflowError,
)
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch
from stockflow.orders.rules.parties import KitRecipe
from stockflow.returns.queries import ReturnView, UnknownReturn
from stockflow.returns.rules import (
    AuthoriseReturn,
    IllegalReturnStep,
    InspectReturn,
    ReceiveLineIn,
    ReceiveReturn,
    ReturnLineIn,
    ReturnTooLarge,
)
from stockflow.stock.queries.ledger import LedgerRow, ledger_page
from stockflow.stock.queries.orders import UnknownOrder
from stockflow.stock.rules.catalogue import NewBin, NewSku
from stockflow.stock.rules.commands import CaptureOrder, OrderLineIn


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(db_url: str, clock: Clock) -> Iterator[Stockflow]:
    """Hamburg (and Cologne, Munich); APPLE and BERRY list at 2.50; channel WEB."""
    sf = open_shop(db_url, clock)
    add_skus(sf, "APPLE", "BERRY", price="2.50")
    add_channel(sf, "WEB")
    yield sf
    sf.close()


def ship_order(sf: Stockflow, cmd: CaptureOrder, location: str = "HAM") -> str:
    """Capture, pick, pack and ship an order in full; its id."""
    captured = sf.orders.capture(cmd)
    assert captured.status == "allocated", captured
    wave = sf.floor.build_wave(WaveRequest(location, order_ids=(captured.id,)))
    assert wave is not None
    for task in wave.tasks:
        sf.floor.confirm_pick(task.id, task.qty, actor="picker")
    shipment = None
    for task in wave.tasks:  # a kit is picked and packed as its components
        shipment = sf.floor.pack_scan(captured.id, task.sku, qty=task.qty)
    assert shipment is not None
    sf.floor.add_package(shipment.id, Parcel(800, 300, 200, 100))
    sf.floor.ship(shipment.id, Dispatch("flat"), actor="packer")
    assert sf.orders.order(captured.id).status == "shipped"
    return captured.id


def shipped_apples_and_berry(sf: Stockflow) -> str:
    """An order of 2 APPLE sold at 1.99 and 1 BERRY (no line price), shipped from HAM."""
    stock(sf, "APPLE", 2)
    stock(sf, "BERRY", 1)
    cmd = CaptureOrder(
        channel="WEB",
        lines=(OrderLineIn("APPLE", 2, Decimal("1.99")), OrderLineIn("BERRY", 1)),
        ship_to="Marienplatz 1, 80331 Munich",
    )
    return ship_order(sf, cmd)


def authorise(
    sf: Stockflow, order_id: str, *lines: tuple[int, int], **fields: object
) -> ReturnView:
    reason = str(fields.pop("reason", "arrived damaged"))
    cmd = AuthoriseReturn(
        order_id,
        tuple(ReturnLineIn(n, q) for n, q in lines),
        reason,
        **fields,  # type: ignore[arg-type]
    )
    return sf.returns.authorise(cmd)


def receive(
    sf: Stockflow, rma_id: str, *lines: tuple[int, int], key: str | None = None
) -> ReturnView:
    cmd = ReceiveReturn(rma_id, tuple(ReceiveLineIn(n, q) for n, q in lines), idempotency_key=key)
    return sf.returns.receive(cmd)


def inspect(
    sf: Stockflow, rma_id: str, line_no: int, disposition: str, qty: int = 1, **fields: object
) -> ReturnView:
    return sf.returns.inspect(
        InspectReturn(rma_id, line_no, disposition, qty, **fields)  # type: ignore[arg-type]
    )


def on_hand_in(sf: Stockflow, sku: str, bin_code: str, location: str = "HAM") -> int:
    return sum(
        p.on_hand for p in sf.positions(sku=sku) if p.bin == bin_code and p.location == location
    )


def atp_of(sf: Stockflow, sku: str) -> tuple[int, int, int]:
    """(sellable on hand, allocated, available) of a SKU over every location."""
    (row,) = sf.atp([sku])
    return row.on_hand, row.allocated, row.available


def ledger(sf: Stockflow, sku: str) -> list[LedgerRow]:
    with sf.db.read() as conn:
        return list(ledger_page(conn, sku=sku, limit=100))


def return_events(sf: Stockflow, order_id: str) -> list[tuple[str, dict[str, object]]]:
    """The order's ``return.*`` outbox events in order, with a few telling payload fields."""
    telling = ("units", "refund_suggested", "disposition", "qty")
    with sf.db.read() as conn:
        rows = conn.execute(
            select(outbox.c.topic, outbox.c.payload)
            .where(outbox.c.key == order_id, outbox.c.topic.like("return.%"))
            .order_by(outbox.c.id)
        ).all()
    return [(r.topic, {k: r.payload[k] for k in telling if k in r.payload}) for r in rows]


# the story ---------------------------------------------------------------------------


def test_a_return_comes_back_is_inspected_restocked_quarantined_and_scrapped(
    shop: Stockflow,
) -> None:
    shipped = shipped_apples_and_berry(shop)
    waiting = shop.orders.capture(order("WEB", ("APPLE", 1)))
    assert waiting.status == "backordered"

    rma = authorise(shop, shipped, (1, 2), (2, 1), reason="wrong colour", idempotency_key="r-1")
    assert rma.status == "authorised"
    assert rma.location == "HAM"
    assert [(ln.order_line_no, ln.sku, ln.qty) for ln in rma.lines] == [
        (1, "APPLE", 2),
        (2, "BERRY", 1),
    ]
    # 2 x 1.99 as sold, and BERRY at its list price: no line price was given.
    assert rma.refund_suggested == Decimal("6.48")
    again = authorise(shop, shipped, (1, 2), (2, 1), reason="wrong colour", idempotency_key="r-1")
    assert (again.id, again.replayed) == (rma.id, True)

    with pytest.raises(ReturnTooLarge, match="at most 0 may still be returned") as too_many:
        authorise(shop, shipped, (1, 1))
    assert too_many.value.field == "lines[0].qty"

    before = atp_of(shop, "APPLE")
    rma = receive(shop, rma.id, (1, 2), (2, 1))
    assert rma.status == "received"
    assert (on_hand_in(shop, "APPLE", "RETURNS"), on_hand_in(shop, "BERRY", "RETURNS")) == (2, 1)
    assert atp_of(shop, "APPLE") == before  # uninspected units are promised to nobody
    assert shop.orders.order(waiting.id).status == "backordered"
    assert_books_balance(shop)

    rma = inspect(shop, rma.id, 1, "restock", actor="inspector")
    on_hand, allocated, _ = atp_of(shop, "APPLE")
    assert (on_hand, allocated) == (before[0] + 1, before[1] + 1)
    assert shop.orders.order(waiting.id).status == "allocated"
    assert on_hand_in(shop, "APPLE", "MAIN") == 1

    rma = inspect(shop, rma.id, 1, "quarantine", note="scuffed box", actor="inspector")
    assert on_hand_in(shop, "APPLE", "QUARANTINE") == 1
    assert atp_of(shop, "APPLE")[0] == before[0] + 1
    assert rma.status == "received"

    rma = inspect(shop, rma.id, 2, "scrap", note="crushed in transit", actor="inspector")
    assert rma.status == "closed"
    assert [(d.line_no, d.disposition, d.qty, d.actor) for d in rma.dispositions] == [
        (1, "restock", 1, "inspector"),
        (1, "quarantine", 1, "inspector"),
        (2, "scrap", 1, "inspector"),
    ]
    assert rma.refund_suggested == Decimal("6.48")
    written_off = [m for m in ledger(shop, "BERRY") if m.reason == "scrap"]
    assert [(m.qty, m.note, m.target) for m in written_off] == [(1, "crushed in transit", None)]
    assert all(p.on_hand == 0 for p in shop.positions(sku="BERRY"))
    notes = shop.orders.order(shipped).decisions
    assert any(f"return {rma.id} authorised" in n for n in notes)
    assert any(f"return {rma.id} inspected in full and closed" in n for n in notes)
    # One event per change, none for the replayed authorisation, each in the change's commit.
    assert return_events(shop, shipped) == [
        # No money in what partners receive: the suggested refund stays inside.
        ("return.authorised", {"units": 3}),
        ("return.received", {"units": 3}),
        ("return.inspected", {"disposition": "restock", "qty": 1}),
        ("return.inspected", {"disposition": "quarantine", "qty": 1}),
        ("return.inspected", {"disposition": "scrap", "qty": 1}),
        ("return.closed", {"units": 3}),
    ]
    assert_books_balance(shop)


# authorising -------------------------------------------------------------------------


def test_nothing_can_come_back_from_an_order_that_has_not_shipped(shop: Stockflow) -> None:
    stock(shop, "APPLE", 3)
    captured = shop.orders.capture(order("WEB", ("APPLE", 2)))
    with pytest.raises(Conflict, match="shipped nothing") as refused:
        authorise(shop, captured.id, (1, 1))
    assert refused.value.field == "order_id"
    with pytest.raises(UnknownOrder):
        authorise(shop, "O-NOPE", (1, 1))
    assert list(shop.returns.page()) == []


@pytest.mark.parametrize(
    ("lines", "fields", "field", "message"),
    [
        ((), {}, "lines", "at least one line"),
        (((3, 1),), {}, "lines[0].line_no", "no line 3"),
        (((1, 1), (1, 1)), {}, "lines[1].line_no", "listed twice"),
        (((1, 0),), {}, "lines[0].qty", "greater than 0"),
        (((2, 2),), {}, "lines[0].qty", "at most 1 may still be returned, not 2"),
        (((1, 1),), {"reason": "  "}, "reason", "say why"),
        (((1, 1),), {"location": "MARS"}, "location", "no location"),
    ],
)
def test_bad_authorisations_name_the_field_and_write_nothing(
    shop: Stockflow,
    lines: tuple[tuple[int, int], ...],
    fields: dict[str, object],
    field: str,
    message: str,
) -> None:
    shipped = shipped_apples_and_berry(shop)
    with pytest.raises(StockflowError, match=message) as refused:
        authorise(shop, shipped, *lines, **fields)
    assert refused.value.field == field
    assert list(shop.returns.page()) == []


def test_units_come_back_where_they_are_told_and_cancelled_rmas_free_their_units(
    shop: Stockflow, clock: Clock
) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 2), location="CGN")
    assert rma.location == "CGN"
    with pytest.raises(ReturnTooLarge):
        authorise(shop, shipped, (1, 1))
    with pytest.raises(IllegalReturnStep, match="it can: cancel, receive"):
        shop.returns.close(rma.id)
    assert shop.returns.cancel(rma.id, actor="cs").status == "cancelled"
    assert shop.returns.cancel(rma.id).status == "cancelled"  # a retry changes nothing
    with pytest.raises(IllegalReturnStep):
        receive(shop, rma.id, (1, 1))
    clock.advance(minutes=5)
    second = authorise(shop, shipped, (1, 2))
    assert second.location == "HAM"
    receive(shop, second.id, (1, 2))
    assert on_hand_in(shop, "APPLE", "RETURNS") == 2
    assert on_hand_in(shop, "APPLE", "RETURNS", "CGN") == 0
    assert [r.id for r in shop.returns.page(order_id=shipped)] == [second.id, rma.id]
    assert [r.id for r in shop.returns.page(status="cancelled")] == [rma.id]
    with pytest.raises(InvalidInput, match="unknown RMA status"):
        shop.returns.page(status="lost")
    assert_books_balance(shop)


def test_a_return_to_a_location_that_holds_no_stock_is_refused(shop: Stockflow) -> None:
    shipped = shipped_apples_and_berry(shop)
    with shop.db.write() as conn:
        conn.execute(
            insert(locations).values(code="ACME", name="Supplier", kind="supplier",
                                     created_at=shop.clock())
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="is a supplier") as refused:
        authorise(shop, shipped, (1, 1), location="ACME")
    assert refused.value.field == "location"


# receiving and inspecting ------------------------------------------------------------


def test_receiving_more_than_authorised_changes_nothing(shop: Stockflow) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 2), (2, 1))
    with pytest.raises(ReturnTooLarge, match="at most 1 more may arrive, not 2") as refused:
        receive(shop, rma.id, (1, 2), (2, 2))
    assert refused.value.field == "lines[1].qty"
    with pytest.raises(InvalidInput) as missing:
        receive(shop, rma.id, (3, 1))
    assert missing.value.field == "lines[0].line_no"
    with pytest.raises(InvalidInput, match="not lot-tracked") as lot:
        shop.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 1, "L1"),)))
    assert lot.value.field == "lines[0].lot"
    with pytest.raises(UnknownReturn):
        receive(shop, "RMA-NOPE", (1, 1))
    assert on_hand_in(shop, "APPLE", "RETURNS") == 0
    assert shop.returns.rma(rma.id).status == "authorised"
    assert_books_balance(shop)


def test_a_retried_receipt_books_the_units_once(shop: Stockflow) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 2), (2, 1))
    first = receive(shop, rma.id, (1, 1), (2, 1), key="parcel-1")
    again = receive(shop, rma.id, (1, 1), (2, 1), key="parcel-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert [ln.received for ln in again.lines] == [1, 1]
    with pytest.raises(IdempotencyKeyReused):
        receive(shop, rma.id, (1, 1), key="parcel-1")
    receive(shop, rma.id, (1, 1), key="parcel-2")
    assert on_hand_in(shop, "APPLE", "RETURNS") == 2
    assert_books_balance(shop)


@pytest.mark.parametrize(
    ("disposition", "qty", "fields", "error", "field"),
    [
        ("restock", 2, {}, ReturnTooLarge, "qty"),
        ("scrap", 1, {}, InvalidInput, "note"),
        ("scrap", 1, {"note": "   "}, InvalidInput, "note"),
        ("resell", 1, {}, InvalidInput, "disposition"),
        ("restock", 0, {}, InvalidInput, "qty"),
        ("restock", 1, {"line_no": 9}, InvalidInput, "line_no"),
        ("restock", 1, {"lot": "L1"}, InvalidInput, "lot"),
    ],
)
def test_bad_inspections_name_the_field_and_move_nothing(
    shop: Stockflow,
    disposition: str,
    qty: int,
    fields: dict[str, object],
    error: type[StockflowError],
    field: str,
) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 2))
    receive(shop, rma.id, (1, 1))
    extra = dict(fields)  # the parameters are shared by both databases' runs: copy, not pop
    line_no = int(extra.pop("line_no", 1))  # type: ignore[call-overload]
    with pytest.raises(error) as refused:
        inspect(shop, rma.id, line_no, disposition, qty, **extra)
    assert refused.value.field == field
    assert on_hand_in(shop, "APPLE", "RETURNS") == 1
    assert shop.returns.rma(rma.id).dispositions == ()
    assert_books_balance(shop)


def test_nothing_is_inspected_before_it_arrives(shop: Stockflow) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 1))
    with pytest.raises(IllegalReturnStep, match="authorised cannot inspect"):
        inspect(shop, rma.id, 1, "restock")


def test_closing_by_hand_waits_for_inspection_and_frees_what_never_came(
    shop: Stockflow,
) -> None:
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 2))
    receive(shop, rma.id, (1, 1))
    with pytest.raises(Conflict, match="wait for inspection"):
        shop.returns.close(rma.id)
    inspect(shop, rma.id, 1, "repair", note="loose hinge")
    closed = shop.returns.close(rma.id, actor="cs")
    assert closed.status == "closed"
    assert shop.returns.close(rma.id).status == "closed"  # a retry changes nothing
    with pytest.raises(IllegalReturnStep):
        receive(shop, rma.id, (1, 1))
    repair = [m for m in ledger(shop, "APPLE") if m.reference == f"rma:{rma.id}:1" and m.source]
    assert [(m.reason, m.note, m.target and m.target.bin) for m in repair] == [
        ("move", "repair: loose hinge", "QUARANTINE")
    ]
    # The unit that never came back may still be returned on a new RMA.
    assert authorise(shop, shipped, (1, 1)).lines[0].qty == 1
    assert_books_balance(shop)


def test_restocked_units_go_to_the_skus_home_bin(shop: Stockflow) -> None:
    shop.add_bins([NewBin("HAM", "A-07", "A", 7)])
    with shop.db.write() as conn:
        sku_id = conn.execute(select(skus.c.id).where(skus.c.code == "APPLE")).scalar_one()
        ham = conn.execute(select(locations.c.id).where(locations.c.code == "HAM")).scalar_one()
        bin_id = conn.execute(
            select(bins.c.id).where(bins.c.location_id == ham, bins.c.code == "A-07")
        ).scalar_one()
        conn.execute(insert(home_bins).values(sku_id=sku_id, location_id=ham, bin_id=bin_id))
    shipped = shipped_apples_and_berry(shop)
    rma = authorise(shop, shipped, (1, 1))
    receive(shop, rma.id, (1, 1))
    before = atp_of(shop, "APPLE")[2]
    assert inspect(shop, rma.id, 1, "restock").status == "closed"
    assert on_hand_in(shop, "APPLE", "A-07") == 1
    assert atp_of(shop, "APPLE")[2] == before + 1
    assert_books_balance(shop)


def test_lot_tracked_units_come_back_into_their_lot(shop: Stockflow) -> None:
    shop.add_skus([NewSku("MILK", "Milk", lot_tracked=True, unit_price=Decimal("0.125"))])
    stock(shop, "MILK", 3, lot="L1")
    shipped = ship_order(shop, order("WEB", ("MILK", 3)))
    rma = authorise(shop, shipped, (1, 3))
    assert rma.refund_suggested == Decimal("0.38")  # 0.375 rounds half up
    with pytest.raises(InvalidInput, match="say which lot") as no_lot:
        receive(shop, rma.id, (1, 1))
    assert no_lot.value.field == "lines[0].lot"
    shop.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 2, "L1"),)))
    shop.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 1, "L2"),)))
    with pytest.raises(InvalidInput, match=r"lots L1 \(2\), L2 \(1\): say which") as which:
        inspect(shop, rma.id, 1, "restock")
    assert which.value.field == "lot"
    with pytest.raises(ReturnTooLarge, match="1 uninspected unit"):
        inspect(shop, rma.id, 1, "restock", 2, lot="L2")
    inspect(shop, rma.id, 1, "restock", 2, lot="L1")
    assert inspect(shop, rma.id, 1, "scrap", note="seal broken").status == "closed"
    shelf = {p.lot: p.on_hand for p in shop.positions(sku="MILK") if p.bin == "MAIN"}
    assert shelf == {"L1": 2}
    assert_books_balance(shop)


def test_a_kit_comes_back_as_its_components(shop: Stockflow) -> None:
    add_skus(shop, "BOX", price="9.00")
    shop.orders.set_kit(KitRecipe("BOX", {"APPLE": 2, "BERRY": 1}))
    stock(shop, "APPLE", 4)
    stock(shop, "BERRY", 2)
    shipped = ship_order(shop, order("WEB", ("BOX", 2)))
    rma = authorise(shop, shipped, (1, 1))
    assert [(ln.order_line_no, ln.sku, ln.qty) for ln in rma.lines] == [
        (1, "APPLE", 2),
        (1, "BERRY", 1),
    ]
    assert rma.refund_suggested == Decimal("9.00")
    with pytest.raises(ReturnTooLarge, match="at most 1 may still be returned"):
        authorise(shop, shipped, (1, 2))
    receive(shop, rma.id, (1, 2), (2, 1))
    inspect(shop, rma.id, 1, "restock", 2)
    assert inspect(shop, rma.id, 2, "restock").status == "closed"
    assert_books_balance(shop)


# concurrency -------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_concurrent_authorisations_and_inspections_never_exceed_what_is_there(
    pg_only_url: str,
) -> None:
    sf = open_shop(pg_only_url, Clock())
    try:
        add_skus(sf, "APPLE", "BERRY", price="2.50")
        add_channel(sf, "WEB")
        shipped = shipped_apples_and_berry(sf)
        won: list[str] = []
        refused: list[StockflowError] = []

        def claim(_: int) -> None:
            try:
                won.append(authorise(sf, shipped, (1, 1)).id)
            except ReturnTooLarge as exc:
                refused.append(exc)

        run_in_threads(8, claim)
        assert (len(won), len(refused)) == (2, 6)  # two apples shipped, two may come back

        receive(sf, won[0], (1, 1))
        looked: list[str] = []

        def look(n: int) -> None:
            try:
                inspect(sf, won[0], 1, "restock" if n % 2 else "quarantine")
                looked.append("ok")
            except (ReturnTooLarge, IllegalReturnStep) as exc:
                refused.append(exc)

        run_in_threads(6, look)
        assert looked == ["ok"]
        assert sf.returns.rma(won[0]).status == "closed"
        assert_books_balance(sf)
    finally:
        sf.close()
