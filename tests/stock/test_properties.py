"""Random warehouse stories against a plain-Python model of the stock.

Hypothesis drives receipts, reservations, releases, shipments, adjustments and
moves between bins on a small catalogue (one SKU with a safety buffer, one
lot-tracked SKU with lots that expired, expire today, soon and late). The model
knows on hand and allocated per position; after every step the database must
agree with it, ``verify`` must find no drift, and ATP must be what the model
says. Every reservation is predicted before it is made: it succeeds exactly
when every line fits what is available, else it fails with the model's number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from helpers import setup_places
from stockflow.bootstrap import Stockflow
from stockflow.errors import (
    ExpiredLot,
    InsufficientStock,
    InvalidInput,
    ReservationClosed,
    StockflowError,
)
from stockflow.stock.queries.reservations import AllocationView, ReservationView
from stockflow.stock.rules.catalogue import NewSku
from stockflow.stock.rules.commands import CloseLines, Place, PostMove, Reserve, ReserveLine

NOW = datetime(2030, 6, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
LOTS: dict[str, date] = {
    "L-GONE": TODAY - timedelta(days=3),
    "L-TODAY": TODAY,  # expires today: on hand, never available
    "L-SOON": TODAY + timedelta(days=2),
    "L-LATE": TODAY + timedelta(days=40),
}
LOT_SKU = "MILK"
SKUS = ("A", "B", LOT_SKU)
LOCATIONS = ("WH1", "WH2")
BINS = ("MAIN", "A-01", "A-02")
BUFFERS = {("B", "WH2"): 3}

Key = tuple[str, str, str, str | None]  # sku, location, bin, lot

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
bins = st.sampled_from(BINS)
lot_codes = st.sampled_from(sorted(LOTS))


def key(sku: str, location: str, bin_code: str, lot: str) -> Key:
    return (sku, location, bin_code, lot if sku == LOT_SKU else None)


def place(k: Key) -> Place:
    return Place(k[1], k[2], k[3])


class Model:
    """On hand and allocated per position, as the story so far says they must be."""

    def __init__(self) -> None:
        self.on_hand: Counter[Key] = Counter()
        self.allocated: Counter[Key] = Counter()

    def free(self, k: Key) -> int:
        return self.on_hand[k] - self.allocated[k]

    @staticmethod
    def expired(k: Key) -> bool:
        return k[3] is not None and LOTS[k[3]] <= TODAY

    def fresh_free(self, sku: str, location: str) -> int:
        return sum(
            self.free(k)
            for k in list(self.on_hand)
            if k[0] == sku and k[1] == location and self.free(k) > 0 and not self.expired(k)
        )

    def available(self, sku: str, location: str | None = None, lot: str | None = None) -> int:
        """What one line could get: fresh free stock, within each location's buffer headroom.

        Raises ``ExpiredLot`` when a pinned lot has free stock but all of it expired.
        """
        group = [
            k
            for k in list(self.on_hand)
            if k[0] == sku
            and self.free(k) > 0
            and (location is None or k[1] == location)
            and (lot is None or k[3] == lot)
        ]
        fresh = [k for k in group if not self.expired(k)]
        if lot is not None and group and not fresh:
            raise ExpiredLot("expected", field="lot")
        total = 0
        for loc in LOCATIONS:
            eligible = sum(self.free(k) for k in fresh if k[1] == loc)
            headroom = self.fresh_free(sku, loc) - BUFFERS.get((sku, loc), 0)
            total += max(0, min(eligible, headroom))
        return total

    def atp(self, sku: str) -> tuple[int, int, int]:
        keys = [k for k in self.on_hand if k[0] == sku]
        return (
            sum(self.on_hand[k] for k in keys),
            sum(self.allocated[k] for k in keys),
            self.available(sku),
        )


def allocation_key(a: AllocationView) -> Key:
    return (a.sku, a.location, a.bin, a.lot)


class WarehouseStory(RuleBasedStateMachine):
    """One fresh database per example; rules are what happens on a warehouse day."""

    new_database: Callable[[], str]

    def __init__(self) -> None:
        super().__init__()
        self.sf = Stockflow.open(type(self).new_database(), migrate_schema=False, clock=lambda: NOW)
        setup_places(self.sf, *LOCATIONS)
        self.sf.add_skus(
            [NewSku("A", "Bolt"), NewSku("B", "Nut"), NewSku(LOT_SKU, "Milk", lot_tracked=True)]
        )
        for (sku, location), qty in BUFFERS.items():
            self.sf.set_buffer(sku=sku, location=location, qty=qty)
        self.model = Model()
        self.open: dict[str, ReservationView] = {}
        self.closed: list[str] = []

    def teardown(self) -> None:
        self.sf.close()

    # receiving and counting ----------------------------------------------------------

    def _receive(self, k: Key, qty: int, reason: str) -> None:
        self.sf.post_move(
            PostMove(
                k[0],
                qty,
                reason,
                target=place(k),
                note="found on count" if reason == "adjustment" else None,
                lot_expires_on=LOTS[k[3]] if k[3] else None,
            )
        )
        self.model.on_hand[k] += qty

    @initialize(
        plain=st.lists(
            st.tuples(st.sampled_from(["A", "B"]), locations, bins, st.integers(1, 20)),
            min_size=1,
            max_size=4,
        ),
        lots=st.lists(
            st.tuples(locations, bins, st.integers(1, 12)), min_size=len(LOTS), max_size=len(LOTS)
        ),
    )
    def opening_stock(
        self, plain: list[tuple[str, str, str, int]], lots: list[tuple[str, str, int]]
    ) -> None:
        for sku, location, bin_code, qty in plain:
            self._receive(key(sku, location, bin_code, ""), qty, "receipt")
        # Every lot starts with some stock, so first-expiring-first has choices to get wrong.
        for lot, (location, bin_code, qty) in zip(sorted(LOTS), lots, strict=True):
            self._receive(key(LOT_SKU, location, bin_code, lot), qty, "receipt")

    @rule(sku=skus, location=locations, bin_code=bins, lot=lot_codes, qty=st.integers(1, 20))
    def receive(self, sku: str, location: str, bin_code: str, lot: str, qty: int) -> None:
        self._receive(key(sku, location, bin_code, lot), qty, "receipt")

    @rule(
        sku=skus,
        location=locations,
        bin_code=bins,
        lot=lot_codes,
        delta=st.integers(-12, 12).filter(bool),
    )
    def adjust(self, sku: str, location: str, bin_code: str, lot: str, delta: int) -> None:
        k = key(sku, location, bin_code, lot)
        if delta > 0:
            self._receive(k, delta, "adjustment")
            return
        cmd = PostMove(sku, -delta, "adjustment", source=place(k), note="damaged on count")
        self._take_out(k, -delta, cmd)

    def _take_out(self, k: Key, qty: int, cmd: PostMove) -> None:
        """A move that takes stock from ``k`` succeeds exactly when ``k`` has that much free."""
        free = self.model.free(k)
        if qty > free:
            with pytest.raises(InsufficientStock) as caught:
                self.sf.post_move(cmd)
            assert caught.value.available == max(free, 0)
            return
        self.sf.post_move(cmd)
        self.model.on_hand[k] -= qty
        if cmd.target is not None:
            self.model.on_hand[(k[0], cmd.target.location, cmd.target.bin or "MAIN", k[3])] += qty

    @rule(
        sku=skus,
        origin=st.tuples(locations, bins),
        destination=st.tuples(locations, bins),
        lot=lot_codes,
        qty=st.integers(1, 15),
    )
    def move_between_bins(
        self,
        sku: str,
        origin: tuple[str, str],
        destination: tuple[str, str],
        lot: str,
        qty: int,
    ) -> None:
        if origin == destination:
            return
        k = key(sku, *origin, lot)
        reason = "putaway" if origin[1] == "MAIN" and origin[0] == destination[0] else "move"
        cmd = PostMove(sku, qty, reason, source=place(k), target=Place(*destination, k[3]))
        self._take_out(k, qty, cmd)

    # reserving -----------------------------------------------------------------------

    @rule(data=st.data())
    def reserve(self, data: st.DataObject) -> None:
        codes = data.draw(st.lists(skus, min_size=1, max_size=2, unique=True), label="skus")
        lines = tuple(
            ReserveLine(
                code,
                data.draw(st.integers(1, 25), label="qty"),
                location=data.draw(st.sampled_from([None, *LOCATIONS]), label="location"),
                lot=data.draw(st.sampled_from([None, *sorted(LOTS)]), label="lot")
                if code == LOT_SKU
                else None,
            )
            for code in codes
        )
        expected: StockflowError | None = None
        for i, ln in enumerate(lines):
            try:
                could_have = self.model.available(ln.sku, ln.location, ln.lot)
            except ExpiredLot:
                expected = ExpiredLot("expected", field=f"lines[{i}].lot")
                break
            if ln.qty > could_have:
                expected = InsufficientStock(
                    sku=ln.sku,
                    requested=ln.qty,
                    available=could_have,
                    location=ln.location,
                    field=f"lines[{i}].qty",
                )
                break
        if expected is not None:
            with pytest.raises(type(expected)) as caught:
                self.sf.reserve(Reserve(lines))
            assert caught.value.field == expected.field
            if isinstance(expected, InsufficientStock):
                assert caught.value.extra() == expected.extra()
            return
        view = self.sf.reserve(Reserve(lines, owner_ref="story"))
        self._check_plan(lines, view)
        for a in view.allocations:
            self.model.allocated[allocation_key(a)] += a.qty
        self.open[view.id] = view

    def _check_plan(self, lines: tuple[ReserveLine, ...], view: ReservationView) -> None:
        """Lines are served in full, from fresh stock, where pinned, first-expiring first."""
        assert view.status == "open"
        for n, ln in enumerate(lines, start=1):
            mine = [a for a in view.allocations if a.line_no == n]
            assert {a.sku for a in mine} == {ln.sku}
            assert sum(a.qty for a in mine) == ln.qty
            for a in mine:
                k = allocation_key(a)
                assert not self.model.expired(k)
                assert 0 < a.qty <= self.model.free(k)
                assert ln.location is None or a.location == ln.location
                assert ln.lot is None or a.lot == ln.lot
            if ln.sku != LOT_SKU:
                continue
            # FEFO: every eligible fresh lot expiring before the latest one used was emptied.
            latest = max(LOTS[a.lot] for a in mine if a.lot)
            used = Counter({allocation_key(a): a.qty for a in mine})
            for k in list(self.model.on_hand):
                if (
                    k[0] == LOT_SKU
                    and k[3] is not None
                    and not self.model.expired(k)
                    and LOTS[k[3]] < latest
                    and (ln.location is None or k[1] == ln.location)
                    and (ln.lot is None or k[3] == ln.lot)
                    and self.model.free(k) > 0
                ):
                    assert used[k] == self.model.free(k), f"FEFO skipped {k}"

    # closing -------------------------------------------------------------------------

    @precondition(lambda self: self.open)
    @rule(data=st.data(), ship=st.booleans())
    def close_part_or_all(self, data: st.DataObject, ship: bool) -> None:
        # In the order they were made: ids are random, so sorting by id would draw
        # a different reservation when hypothesis replays the same choices.
        rid = data.draw(st.sampled_from(list(self.open)), label="reservation")
        before = self.open[rid]
        held: Counter[str] = Counter()
        for a in before.allocations:
            held[a.sku] += a.open
        held = +held
        wanted: dict[str, int] = {}
        if data.draw(st.booleans(), label="partial"):
            sku = data.draw(st.sampled_from(sorted(held)), label="sku")
            wanted = {sku: data.draw(st.integers(1, held[sku] + 1), label="qty")}
        close = self.sf.consume if ship else self.sf.release
        cmd = CloseLines(rid, wanted, reference="story")
        if any(q > held[s] for s, q in wanted.items()):
            with pytest.raises(InvalidInput) as caught:
                close(cmd)
            assert caught.value.field == f"lines.{next(iter(wanted))}"
            return
        after = close(cmd)
        self._apply_closing(before, after, wanted or dict(held), ship=ship)

    def _apply_closing(
        self, before: ReservationView, after: ReservationView, wanted: dict[str, int], *, ship: bool
    ) -> None:
        taken: Counter[str] = Counter()
        for old, new in zip(before.allocations, after.allocations, strict=True):
            assert (old.line_no, old.sku, old.location, old.bin, old.lot, old.qty) == (
                new.line_no,
                new.sku,
                new.location,
                new.bin,
                new.lot,
                new.qty,
            )
            released, consumed = new.released - old.released, new.consumed - old.consumed
            assert released >= 0
            assert consumed >= 0
            assert (released if ship else consumed) == 0
            k = allocation_key(new)
            self.model.allocated[k] -= released + consumed
            self.model.on_hand[k] -= consumed
            taken[new.sku] += released + consumed
        assert taken == Counter(wanted)
        if after.open_qty == 0:
            assert (after.status, after.closed_at) == ("closed", NOW)
            del self.open[after.id]
            self.closed.append(after.id)
        else:
            assert after.status == "open"
            self.open[after.id] = after

    @precondition(lambda self: self.closed)
    @rule(data=st.data(), ship=st.booleans())
    def close_a_closed_reservation(self, data: st.DataObject, ship: bool) -> None:
        rid = data.draw(st.sampled_from(self.closed), label="closed reservation")
        with pytest.raises(ReservationClosed):
            (self.sf.consume if ship else self.sf.release)(CloseLines(rid))

    # after every step --------------------------------------------------------------

    @invariant()
    def ledger_positions_and_allocations_agree(self) -> None:
        assert self.sf.verify() == []

    @invariant()
    def positions_are_what_the_model_says(self) -> None:
        stored = {
            (p.sku, p.location, p.bin, p.lot): (p.on_hand, p.allocated)
            for p in self.sf.positions()
            if p.on_hand or p.allocated
        }
        expected = {
            k: (self.model.on_hand[k], self.model.allocated[k])
            for k in set(self.model.on_hand) | set(self.model.allocated)
            if self.model.on_hand[k] or self.model.allocated[k]
        }
        assert stored == expected
        assert all(0 <= allocated <= on_hand for on_hand, allocated in stored.values())

    @invariant()
    def atp_is_what_the_model_says(self) -> None:
        for a in self.sf.atp(list(SKUS)):
            assert (a.on_hand, a.allocated, a.available) == self.model.atp(a.sku), a.sku
            assert a.available >= 0
            for loc in a.locations:
                assert loc.buffer == BUFFERS.get((a.sku, loc.location), 0)
                assert loc.available == self.model.available(a.sku, loc.location)
                expired = sum(
                    max(0, self.model.free(k))
                    for k in self.model.on_hand
                    if k[0] == a.sku and k[1] == loc.location and self.model.expired(k)
                )
                assert loc.expired == expired

    @invariant()
    def open_reservations_hold_what_they_say(self) -> None:
        held: Counter[Key] = Counter()
        for view in self.open.values():
            for a in view.allocations:
                held[allocation_key(a)] += a.open
        assert +held == +self.model.allocated


def test_random_warehouse_stories_keep_the_books_straight(new_database: Callable[[], str]) -> None:
    story = type("Story", (WarehouseStory,), {"new_database": staticmethod(new_database)})
    run_state_machine_as_test(
        story,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
