"""A page boundary never skips or repeats a row, even where rows tie on the order people see.

Lists newest first are ordered by (created at, id) and channels by (priority,
code): with the clock standing still every row ties on its first key, and
only the tie-breaker tells them apart. Walked a page of 1, 2 or 3 at a time,
each list holds every row exactly once, in the one order; rows added while a
caller walks never push a row it has not reached out of reach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers import receive, setup_places
from order_shop import order
from stockflow.adapters.paging import MAX_PAGE, Page, every
from stockflow.bootstrap import Stockflow
from stockflow.counts.rules import CountScope
from stockflow.errors import InvalidInput
from stockflow.orders.queries import channel_page
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewPurchaseOrder, NewSupplier, POLineIn
from stockflow.stock.rules.catalogue import NewSku
from stockflow.transfers.rules import TransferLineIn

STILL = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ROWS = 7
SITES = ("WH1", "WH2", "WH3", "WH4")


@pytest.fixture
def still(db_url: str) -> Iterator[Stockflow]:
    """A stockflow whose clock stands still: everything it makes ties on its time."""
    sf = Stockflow.open(db_url, migrate_schema=False, clock=lambda: STILL)
    setup_places(sf, *SITES)
    sf.add_skus([NewSku("A", "Bolt")])
    for site in SITES:
        for bin_code in ("A-01", "A-02"):
            receive(sf, "A", 100, site, bin=bin_code)
    yield sf
    sf.close()


Fetch = Callable[[str | None, int], Page[Any]]


def walked(fetch: Fetch, size: int) -> list[Any]:
    """Every item, ``size`` a page."""
    return list(every(lambda after: fetch(after, size)))


def assert_walks_cleanly(
    fetch: Fetch, key: Callable[[Any], object], expected: Sequence[object]
) -> None:
    whole = [key(x) for x in fetch(None, MAX_PAGE)]
    assert whole == list(expected)
    for size in (1, 2, 3):
        assert [key(x) for x in walked(fetch, size)] == whole, size


def test_orders_made_at_one_instant_are_paged_by_id(still: Stockflow) -> None:
    still.orders.add_channel(NewChannel("WEB", "Web"))
    ids = [still.orders.capture(order("WEB", ("A", 1))).id for _ in range(ROWS)]
    assert {o.created_at for o in still.orders.orders()} == {STILL}
    assert_walks_cleanly(
        lambda after, limit: still.orders.orders(after=after, limit=limit),
        lambda o: o.id,
        sorted(ids, reverse=True),
    )


def test_documents_made_at_one_instant_are_paged_by_id(still: Stockflow) -> None:
    still.receiving.add_supplier(NewSupplier("ACME", "Acme", 5))
    week = STILL.date() + timedelta(days=7)
    pos = [
        still.receiving.place_order(
            NewPurchaseOrder("ACME", "WH1", (POLineIn("A", 5, Decimal("1.25")),))
        ).id
        for _ in range(ROWS)
    ]
    # Half leave WH2, half arrive there.
    transfers = [
        still.transfers.ship(
            from_location=("WH1", "WH2")[n % 2], to_location=("WH2", "WH3")[n % 2],
            lines=[TransferLineIn("A", 1)], expected_on=week,
        ).id
        for n in range(ROWS)
    ]  # fmt: skip
    counts = [
        still.counts.create(location=site, scope=CountScope("bins", bins=(bin_code,))).id
        for site in SITES
        for bin_code in ("A-01", "A-02")
    ]
    assert_walks_cleanly(
        lambda after, limit: still.receiving.purchase_orders(after=after, limit=limit),
        lambda p: p.id,
        sorted(pos, reverse=True),
    )
    assert_walks_cleanly(
        lambda after, limit: still.transfers.transfers(after=after, limit=limit),
        lambda t: t.id,
        sorted(transfers, reverse=True),
    )
    # Leaving from or arriving at one place: two indexes' worth, merged a page at a time.
    assert_walks_cleanly(
        lambda after, limit: still.transfers.transfers(location="WH2", after=after, limit=limit),
        lambda t: t.id,
        sorted(transfers, reverse=True),
    )
    assert_walks_cleanly(
        lambda after, limit: still.counts.counts(after=after, limit=limit),
        lambda c: c.id,
        sorted(counts, reverse=True),
    )


def test_channels_of_one_priority_are_paged_by_code(still: Stockflow) -> None:
    for code, priority in (("E", 1), ("B", 5), ("D", 1), ("A", 5), ("C", 5), ("F", 0)):
        still.orders.add_channel(NewChannel(code, code, priority=priority))
    with still.db.read() as conn:
        assert_walks_cleanly(
            lambda after, limit: channel_page(conn, after=after, limit=limit),
            lambda c: (c.priority, c.code),
            [(5, "A"), (5, "B"), (5, "C"), (1, "D"), (1, "E"), (0, "F")],
        )


def test_rows_added_while_walking_never_hide_one_not_yet_reached(still: Stockflow) -> None:
    still.orders.add_channel(NewChannel("WEB", "Web"))
    first = {still.orders.capture(order("WEB", ("A", 1))).id for _ in range(ROWS)}
    seen: list[str] = []
    after = None
    while True:
        page = still.orders.orders(after=after, limit=2)
        seen.extend(o.id for o in page)
        for _ in range(2):  # more orders at the same instant, some sorting before the cursor
            still.orders.capture(order("WEB", ("A", 1)))
        if page.next is None:
            break
        after = page.next
    assert len(seen) == len(set(seen))  # nothing twice
    assert first <= set(seen)  # nothing that was there from the start is missed


def test_a_cursor_is_the_lists_own(still: Stockflow) -> None:
    still.orders.add_channel(NewChannel("WEB", "Web"))
    for _ in range(3):
        still.orders.capture(order("WEB", ("A", 1)))
    cursor = still.orders.orders(limit=1).next
    assert cursor is not None
    with pytest.raises(InvalidInput) as caught:
        still.receiving.purchase_orders(after=cursor)
    assert caught.value.field == "cursor"
