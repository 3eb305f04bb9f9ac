"""Allocation planning: which positions serve a request, first-expiring first (FEFO).

The planner works on a ``StockBook``: the free quantity of positions that the
caller has already locked, so a plan made here is exact, not a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from stockflow.errors import ExpiredLot, InsufficientStock


@dataclass(slots=True)
class Candidate:
    """A locked position that may serve a line."""

    position_id: int
    sku_id: int
    location_id: int
    location_code: str
    bin_code: str
    lot_code: str
    expires_on: date | None
    free: int  # on hand - allocated, reduced as the book hands stock out

    def expired(self, today: date) -> bool:
        """A lot may not be promised on or after its expiry date."""
        return self.expires_on is not None and self.expires_on <= today

    def fefo_key(self) -> tuple[bool, date, str, str, int]:
        """Sort key: dated lots first, earliest expiry first, then location and bin."""
        return (
            self.expires_on is None,
            self.expires_on or date.max,
            self.location_code,
            self.bin_code,
            self.position_id,
        )


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One line to allocate: ``qty`` units of a SKU, optionally pinned to a location or lot."""

    sku_id: int
    sku_code: str
    qty: int
    field: str
    location_id: int | None = None
    location_code: str | None = None
    lot_code: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedAllocation:
    """``qty`` units of ``line_index`` served from one position."""

    line_index: int
    position_id: int
    sku_id: int
    qty: int


class StockBook:
    """Free stock of locked positions, handed out request by request, all-or-nothing."""

    def __init__(
        self,
        candidates: Iterable[Candidate],
        *,
        buffers: dict[tuple[int, int], int],
        today: date,
        fences: dict[tuple[int, int, int], int] | None = None,
    ) -> None:
        self._today = today
        # Ring fences: (sku, location, channel) -> units only that channel may take.
        self._fences: dict[tuple[int, int, int], int] = dict(fences or {})
        self._fenced: dict[tuple[int, int], int] = defaultdict(int)
        for (sku_id, location_id, _), qty in self._fences.items():
            self._fenced[(sku_id, location_id)] += qty
        self.fence_draws: dict[tuple[int, int, int], int] = defaultdict(int)
        self._by_sku: dict[int, list[Candidate]] = defaultdict(list)
        self._positions: dict[int, Candidate] = {}
        for candidate in candidates:
            self._by_sku[candidate.sku_id].append(candidate)
            self._positions[candidate.position_id] = candidate
        for group in self._by_sku.values():
            group.sort(key=Candidate.fefo_key)
        # Headroom per (sku, location): what may still leave the location before
        # its safety buffer is touched.
        self._headroom: dict[tuple[int, int], int] = defaultdict(int)
        for group in self._by_sku.values():
            for c in group:
                if not c.expired(today):
                    self._headroom[(c.sku_id, c.location_id)] += c.free
        for key, buffer in buffers.items():
            if key in self._headroom:
                self._headroom[key] -= buffer

    def plan(
        self, lines: Sequence[LineRequest], *, channel: int | None = None
    ) -> list[PlannedAllocation]:
        """Allocate every line or none; on success the stock is taken from the book.

        ``channel`` may take its own ring-fenced units (first) and never another
        channel's.
        """
        taken: dict[int, int] = defaultdict(int)
        headroom_used: dict[tuple[int, int], int] = defaultdict(int)
        drawn: dict[tuple[int, int, int], int] = defaultdict(int)
        plan: list[PlannedAllocation] = []
        for index, line in enumerate(lines):
            remaining = line.qty
            eligible = self._eligible(line)
            for c in eligible:
                key = (c.sku_id, c.location_id)
                own = (c.sku_id, c.location_id, channel or 0)
                own_left = self._fences.get(own, 0) - drawn.get(own, 0)
                others = self._fenced[key] - self._fences.get(own, 0)
                pool = self._headroom[key] - headroom_used[key] - others
                room = min(c.free - taken[c.position_id], pool)
                if room <= 0:
                    continue
                take = min(room, remaining)
                taken[c.position_id] += take
                headroom_used[key] += take
                if own_left > 0:
                    drawn[own] += min(own_left, take)
                plan.append(PlannedAllocation(index, c.position_id, c.sku_id, take))
                remaining -= take
                if remaining == 0:
                    break
            if remaining:
                # The loop took every unit the line could have had, so what it
                # served is exactly what was available to it.
                raise InsufficientStock(
                    sku=line.sku_code,
                    requested=line.qty,
                    available=line.qty - remaining,
                    location=line.location_code,
                    field=f"{line.field}.qty",
                )
        for key, used in headroom_used.items():
            self._headroom[key] -= used
        for fence, qty in drawn.items():
            self._fences[fence] -= qty
            self._fenced[fence[:2]] -= qty
            self.fence_draws[fence] += qty
        for position_id, qty in taken.items():
            self._positions[position_id].free -= qty
        return plan

    def candidate(self, position_id: int) -> Candidate:
        """The position with this id."""
        return self._positions[position_id]

    def available(
        self, sku_id: int, location_id: int | None = None, *, channel: int | None = None
    ) -> int:
        """Units of a SKU the book could still hand ``channel`` (optionally at one location)."""
        per_location: dict[int, int] = defaultdict(int)
        for c in self._by_sku.get(sku_id, []):
            if not c.expired(self._today) and (location_id is None or c.location_id == location_id):
                per_location[c.location_id] += c.free
        total = 0
        for loc, free in per_location.items():
            others = self._fenced[(sku_id, loc)] - self._fences.get((sku_id, loc, channel or 0), 0)
            total += max(0, min(free, self._headroom[(sku_id, loc)] - others))
        return total

    def _eligible(self, line: LineRequest) -> list[Candidate]:
        group = [
            c
            for c in self._by_sku.get(line.sku_id, [])
            if (line.location_id is None or c.location_id == line.location_id)
            and (line.lot_code is None or c.lot_code == line.lot_code)
        ]
        fresh = [c for c in group if not c.expired(self._today)]
        if line.lot_code is not None and group and not fresh:
            raise ExpiredLot(
                f"lot {line.lot_code} of SKU {line.sku_code} has expired", field=f"{line.field}.lot"
            )
        return fresh
