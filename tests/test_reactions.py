"""Reactions as events: whatever frees stock, waiting orders get it, through one handler table.

Each way units come free (a receipt, a release, a cancellation, a return to
stock, a count that finds units, a transfer that arrives, a release from
quarantine, a move, opening stock) is run against an order already waiting for
the SKU. The order must end up allocated, and the event that freed the units
must be in the outbox. The handler table is also held to its vocabulary, and
no module calls a reaction of order management by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import stockflow
from helpers import write_sheet
from order_shop import Clock, add_channel, add_skus, open_shop, order, stock
from receiving_shop import stock_the_floor
from stockflow.adapters.parcels import Parcel
from stockflow.adapters.reactions import Reactions
from stockflow.adapters.tables import outbox
from stockflow.bootstrap import Stockflow, handler_table
from stockflow.counts.rules import CountScope
from stockflow.errors import ReactionFailed
from stockflow.floor.picking import WaveRequest
from stockflow.floor.shipping import Dispatch
from stockflow.receiving.rules.purchasing import ReceiptLineIn, Receive
from stockflow.receiving.rules.putaway import QuarantineDecision
from stockflow.returns.rules import (
    AuthoriseReturn,
    InspectReturn,
    ReceiveLineIn,
    ReceiveReturn,
    ReturnLineIn,
)
from stockflow.stock import imports
from stockflow.stock.rules import events
from stockflow.stock.rules.commands import CloseLines, Place, PostMove, Reserve, ReserveLine
from stockflow.transfers.rules import ReceiveLine, TransferLineIn


@pytest.fixture
def shop(db_url: str) -> Iterator[Stockflow]:
    """HAM (bins A-01, A-02, B-01), CGN and MUC; SKU BOLT; channel web ships from HAM only.

    Every committed transaction's events are kept in ``COMMITTED`` on their way to
    the reactions: ``stock.freed`` is for reactions only and never in the outbox.
    """
    sf = open_shop(db_url, Clock())
    react = sf.db.react
    committed: list[object] = []

    def keep(recorded: Sequence[object]) -> None:
        committed.extend(recorded)
        react(recorded)

    sf.db.on_commit(keep)
    COMMITTED[id(sf)] = committed
    stock_the_floor(sf, "BOLT")
    add_channel(sf, "web", ship_from=("HAM",))
    yield sf
    COMMITTED.pop(id(sf), None)
    sf.close()


COMMITTED: dict[int, list[object]] = {}


def waiting_for_bolts(sf: Stockflow, qty: int = 2) -> str:
    """An order for ``qty`` BOLT that waits: nothing is free at HAM."""
    waiting = sf.orders.capture(order("web", ("BOLT", qty)))
    assert waiting.status == "backordered"
    return waiting.id


def freed_events(sf: Stockflow) -> list[tuple[str, object]]:
    """(cause, SKUs) of every ``stock.freed`` event committed, oldest first; none in the outbox."""
    with sf.db.read() as conn:
        written = conn.execute(
            select(outbox.c.id).where(outbox.c.topic == events.Topic.STOCK_FREED.value)
        ).all()
    assert written == []
    freed = [e for e in COMMITTED[id(sf)] if isinstance(e, events.StockFreed)]
    return [(e.cause, list(e.skus)) for e in freed]


# each way of freeing stock, run after an order started waiting ------------------------------
# ``before`` sets the scene and returns what the freeing step needs (an id, or "").


def _nothing(sf: Stockflow) -> str:
    return ""


def by_receipt(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 2),), location="HAM"))


def held_by_a_cart(sf: Stockflow) -> str:
    stock(sf, "BOLT", 2)
    held = sf.reserve(Reserve((ReserveLine("BOLT", 2, location="HAM"),), owner_ref="cart:1"))
    return held.id


def by_release(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sf.release(CloseLines(given))


def held_by_an_order(sf: Stockflow) -> str:
    stock(sf, "BOLT", 2)
    first = sf.orders.capture(order("web", ("BOLT", 2)))
    assert first.status == "allocated"
    return first.id


def by_cancellation(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sf.orders.cancel(given, reason="customer changed their mind")


def shipped(sf: Stockflow) -> str:
    stock(sf, "BOLT", 2)
    captured = sf.orders.capture(order("web", ("BOLT", 2)))
    wave = sf.floor.build_wave(WaveRequest("HAM", order_ids=(captured.id,)))
    assert wave is not None
    for task in wave.tasks:
        sf.floor.confirm_pick(task.id, task.qty, actor="picker")
    shipment = sf.floor.pack_scan(captured.id, "BOLT", qty=2)
    sf.floor.add_package(shipment.id, Parcel(800, 300, 200, 100))
    sf.floor.ship(shipment.id, Dispatch("flat"), actor="packer")
    return captured.id


def by_return_to_stock(sf: Stockflow, given: str, tmp_path: Path) -> None:
    rma = sf.returns.authorise(AuthoriseReturn(given, (ReturnLineIn(1, 2),), "wrong size"))
    sf.returns.receive(ReceiveReturn(rma.id, (ReceiveLineIn(1, 2),)))
    sf.returns.inspect(InspectReturn(rma.id, 1, "restock", 2))


def nuts_in_zone_a(sf: Stockflow) -> str:
    """A count needs something in its bins to count: a NUT in A-02."""
    add_skus(sf, "NUT")
    sf.post_move(PostMove("NUT", 1, "receipt", target=Place("HAM", "A-02")))
    return ""


def by_count_found(sf: Stockflow, given: str, tmp_path: Path) -> None:
    count = sf.counts.create(location="HAM", scope=CountScope("zone", zone="A"), tolerance_pct=100)
    sf.counts.report_found(count.id, bin="A-01", sku="BOLT", counted=2, actor="ola")
    for line in sf.counts.count(count.id).lines:
        if line.status == "pending_approval":
            sf.counts.approve(count.id, line.line_no, actor="sup-kim")


def in_cologne(sf: Stockflow) -> str:
    stock(sf, "BOLT", 2, "CGN")
    return ""


def by_transfer_received(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sent = sf.transfers.ship(
        from_location="CGN", to_location="HAM", lines=[TransferLineIn("BOLT", 2)],
        expected_on=sf.today() + timedelta(days=2),
    )  # fmt: skip
    sf.transfers.receive(sent.id, [ReceiveLine(1, 2)])


def in_quarantine(sf: Stockflow) -> str:
    sf.receiving.receive(Receive((ReceiptLineIn("BOLT", 2, 2),), location="HAM"))
    return ""


def by_quarantine_release(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sf.receiving.release_from_quarantine(
        QuarantineDecision(
            "HAM", "BOLT", 2, actor="qa-lee", note="passed inspection", to_bin="A-01"
        )
    )


def by_move(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sf.post_move(PostMove("BOLT", 2, "receipt", target=Place("HAM", "A-01")))


def by_opening_stock(sf: Stockflow, given: str, tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "stock.csv", [("sku", "location", "qty"), ("BOLT", "HAM", 2)])
    imports.import_stock(sf, sheet)


Before = Callable[[Stockflow], str]
FreeIt = Callable[[Stockflow, str, Path], None]
FREEING: dict[str, tuple[Before, FreeIt, str]] = {
    "receipt": (_nothing, by_receipt, "receipt"),
    "release": (held_by_a_cart, by_release, "release"),
    "cancellation": (held_by_an_order, by_cancellation, ""),
    "return to stock": (shipped, by_return_to_stock, "return"),
    "count found": (nuts_in_zone_a, by_count_found, "count"),
    "transfer received": (in_cologne, by_transfer_received, "transfer"),
    "quarantine release": (in_quarantine, by_quarantine_release, "quarantine"),
    "move": (_nothing, by_move, "move"),
    "opening stock": (_nothing, by_opening_stock, "import"),
}


@pytest.mark.parametrize("way", sorted(FREEING))
def test_whatever_frees_stock_fills_the_order_waiting_for_it(
    shop: Stockflow, tmp_path: Path, way: str
) -> None:
    sf = shop
    before, free_it, cause = FREEING[way]
    given = before(sf)
    waiting = waiting_for_bolts(sf)
    free_it(sf, given, tmp_path)
    assert sf.orders.order(waiting).status == "allocated", way
    if cause:  # a cancellation announces itself as ``order.cancelled`` instead
        assert (cause, ["BOLT"]) in freed_events(sf), way
    assert sf.verify() == []


# the handler table and its vocabulary ----------------------------------------------------------


def _event_classes() -> list[type[events.Event]]:
    found = [
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, events.Event) and value is not events.Event
    ]
    return sorted(found, key=lambda c: c.__name__)


def test_every_event_that_frees_stock_is_answered_by_offering_it_to_waiting_orders(
    shop: Stockflow,
) -> None:
    sf = shop
    table = handler_table(sf)
    freeing = [c for c in _event_classes() if isinstance(getattr(c, "wanted", None), property)]
    assert {c.__name__ for c in freeing} >= {
        "StockFreed", "OrderCancelled", "HoldReleased", "OrderReallocated", "StockTakenBack",
    }  # fmt: skip
    for kind in freeing:
        assert sf.orders.offer_free_stock in table.get(kind, []), kind.__name__
    shrinking = [c for c in _event_classes() if isinstance(getattr(c, "holders", None), property)]
    for kind in shrinking:
        assert sf.floor.retire_stale_tasks in table.get(kind, []), kind.__name__
    # Every topic belongs to one event class (the shared bases name none of their own).
    bases = (events.OrderChanged, events.ReturnChanged)
    topics = [c.topic for c in _event_classes() if c not in bases and "topic" in vars(c)]
    assert len(topics) == len(set(topics))
    assert set(topics) == set(events.Topic)


REACTIONS = {"fill_backorders", "repromise", "repromise_waiting", "promise_after_loss"}


def test_no_module_calls_a_reaction_of_order_management_by_hand() -> None:
    """Only the orders front door (the handler table's side of it) calls the fills."""
    root = Path(stockflow.__file__).parent
    allowed = {
        root / "orders" / "front.py",  # the reactions and the fill command itself
        root / "orders" / "backorders.py",  # where they are defined
    }
    callers = []
    for path in sorted(root.rglob("*.py")):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in REACTIONS:
                    callers.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    # The one exception: the operator's explicit ``stockflow orders fill-backorders`` command.
    assert callers == ["cli/orders.py:75 fill_backorders"]


def test_a_failed_reaction_says_the_command_was_saved(shop: Stockflow) -> None:
    sf = shop
    seen: list[object] = []

    def breaks(events: object) -> None:
        seen.append(events)
        raise RuntimeError("disk full")

    sf.db.on_commit(Reactions({events.StockFreed: [breaks]}))
    with pytest.raises(ReactionFailed) as failed:
        sf.post_move(PostMove("BOLT", 2, "receipt", target=Place("HAM", "A-01")))
    assert (failed.value.status, failed.value.title) == (500, "Saved, but a follow-up step failed")
    assert "the change was saved" in failed.value.detail
    assert isinstance(failed.value.__cause__, RuntimeError)
    assert len(seen) == 1
    # The receipt itself stands, and the books balance.
    assert sum(p.on_hand for p in sf.positions(sku="BOLT")) == 2
    assert sf.verify() == []
