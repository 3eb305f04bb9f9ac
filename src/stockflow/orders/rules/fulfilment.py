"""Where an order ships from: the allocation rules, defined once for every path.

Capture, backorder fills and manual re-allocation all call ``plan_order`` on a
``StockBook`` of locked positions:

1. the nearest location that can ship the whole order;
2. otherwise a split over the nearest locations, up to the channel's limit;
3. otherwise, if the channel allows partial shipment, whatever the nearest
   locations hold; else nothing, and the order waits (or is refused).

Every step leaves a sentence in ``decisions`` so a person can see why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from stockflow.errors import InsufficientStock
from stockflow.orders.rules.channels import ChannelRules
from stockflow.stock.rules.allocation import LineRequest, PlannedAllocation, StockBook


@dataclass(frozen=True, slots=True)
class Need:
    """Units of one SKU an order line needs (a kit line needs each of its components)."""

    line_no: int
    sku_id: int
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Site:
    """A location the order could ship from, with its distance to the customer."""

    id: int
    code: str
    km: float | None  # None: the customer's or the site's coordinates are unknown

    @property
    def label(self) -> str:
        """The site as decisions name it."""
        return f"{self.code} ({self.km:.0f} km)" if self.km is not None else self.code


@dataclass(slots=True)
class OrderPlan:
    """What was allocated where, what is still missing, and why."""

    allocations: list[tuple[Need, PlannedAllocation]] = field(default_factory=list)
    missing: dict[int, int] = field(default_factory=dict)  # need index -> units short
    decisions: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every need is covered."""
        return not any(self.missing.values())


def plan_order(
    book: StockBook, needs: Sequence[Need], sites: Sequence[Site], channel: ChannelRules
) -> OrderPlan:
    """Allocate ``needs`` by the rules above; the book keeps what was taken."""
    plan = OrderPlan()
    # Unknown distances sort after every known one, then by code, so the choice is stable.
    nearest = sorted(sites, key=lambda s: (s.km is None, s.km or 0.0, s.code))
    if not nearest:
        plan.decisions.append(f"channel {channel.code} has no location to ship from")
        plan.missing = {i: n.qty for i, n in enumerate(needs)}
        return plan
    for site in nearest:
        short = _whole_from(book, needs, site, channel, plan)
        if short is None:
            return plan
        plan.decisions.append(f"{site.code}: {short}")
    shares, missing = _split(book, needs, nearest, channel)
    if missing and not channel.allow_partial:
        plan.missing = {i: n.qty for i, n in enumerate(needs)}
        gap = ", ".join(f"{needs[i].sku} short {q}" for i, q in missing.items() if q)
        plan.decisions.append(
            f"no split over {len(shares) or 1} location(s) fills the order ({gap}); "
            "nothing allocated"
        )
        return plan
    for site, takes in shares:
        _take(book, needs, site, takes, channel, plan)
    plan.missing = missing
    if missing:
        plan.decisions.append("partial shipment allowed: the rest waits")
    return plan


def _whole_from(
    book: StockBook, needs: Sequence[Need], site: Site, channel: ChannelRules, plan: OrderPlan
) -> str | None:
    """Allocate every need at ``site``; None on success, else why not."""
    lines = [_pinned(n, n.qty, site) for n in needs]
    try:
        taken = book.plan(lines, channel=channel.id)
    except InsufficientStock as exc:
        return f"{exc.available} of {exc.requested} {exc.sku} available"
    plan.allocations.extend((needs[a.line_index], a) for a in taken)
    plan.decisions.append(f"ships whole from {site.label}")
    return None


def _split(
    book: StockBook, needs: Sequence[Need], sites: Sequence[Site], channel: ChannelRules
) -> tuple[list[tuple[Site, dict[int, int]]], dict[int, int]]:
    """How many units of each need each site gives, nearest first, from the book's counts.

    Only a site that gives something counts towards the channel's ``max_splits``:
    an empty warehouse nearby must not crowd out one further away that has stock.
    """
    remaining = {i: n.qty for i, n in enumerate(needs)}
    shares: list[tuple[Site, dict[int, int]]] = []
    for site in sites:
        if len(shares) >= max(1, channel.max_splits):
            break
        left: dict[int, int] = defaultdict(int)
        for n in needs:
            left[n.sku_id] = book.available(n.sku_id, site.id, channel=channel.id)
        takes: dict[int, int] = {}
        for i, n in enumerate(needs):
            q = min(remaining[i], left[n.sku_id])
            if q > 0:
                takes[i] = q
                left[n.sku_id] -= q
                remaining[i] -= q
        if takes:
            shares.append((site, takes))
        if not any(remaining.values()):
            break
    return shares, {i: q for i, q in remaining.items() if q}


def _take(
    book: StockBook,
    needs: Sequence[Need],
    site: Site,
    takes: dict[int, int],
    channel: ChannelRules,
    plan: OrderPlan,
) -> None:
    order = list(takes)
    lines = [_pinned(needs[i], takes[i], site) for i in order]
    for a in book.plan(lines, channel=channel.id):
        plan.allocations.append((needs[order[a.line_index]], a))
    per_sku: dict[str, int] = defaultdict(int)
    for i, q in takes.items():
        per_sku[needs[i].sku] += q
    what = ", ".join(f"{q} {sku}" for sku, q in per_sku.items())
    plan.decisions.append(f"split: {site.label} gives {what}")


def _pinned(need: Need, qty: int, site: Site) -> LineRequest:
    return LineRequest(
        sku_id=need.sku_id,
        sku_code=need.sku,
        qty=qty,
        field=f"lines[{need.line_no - 1}]",
        location_id=site.id,
        location_code=site.code,
    )
