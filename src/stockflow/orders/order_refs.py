"""What a batch of orders refers to, looked up once: channels, SKUs, kits, customers, sites."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, func, select

from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    allocations,
    channel_locations,
    channels,
    customers,
    incoming_supply,
    locations,
    order_lines,
    orders,
    positions,
    purchase_orders,
    skus,
    transfers,
)
from stockflow.errors import InactiveSku, NotFound, StockflowError, UnknownSku
from stockflow.orders.rules.channels import BackorderPolicy, ChannelRules
from stockflow.orders.rules.fulfilment import Need, Site
from stockflow.stock import lookup
from stockflow.stock.queries.orders import kit_recipes
from stockflow.stock.rules.commands import CaptureOrder
from stockflow.stock.rules.places import SELLABLE_KINDS, coords, distance_km


class UnknownChannel(NotFound):
    """No channel has that code."""

    title = "Unknown channel"


class UnknownCustomer(NotFound):
    """No customer has that code."""

    title = "Unknown customer"


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """What order rules need of a customer."""

    id: int
    coordinates: tuple[float, float] | None
    has_orders: bool


@dataclass(frozen=True, slots=True)
class SiteRef:
    """A sellable location and where it is."""

    id: int
    code: str
    coordinates: tuple[float, float] | None


def load_channels(conn: Connection, codes: Iterable[str]) -> dict[str, ChannelRules]:
    """Channels by code, with the locations each may ship from."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = conn.execute(select(channels).where(among(channels.c.code, wanted))).all()
    ship_from: dict[int, list[int]] = defaultdict(list)
    ids = [r.id for r in rows]
    if ids:
        for link in conn.execute(
            select(channel_locations).where(among(channel_locations.c.channel_id, ids))
        ):
            ship_from[link.channel_id].append(int(link.location_id))
    return {
        r.code: ChannelRules(
            id=r.id,
            code=r.code,
            priority=int(r.priority),
            ship_from=tuple(sorted(ship_from[r.id])),
            max_splits=int(r.max_splits),
            allow_partial=bool(r.allow_partial),
            backorder_policy=BackorderPolicy(r.backorder_policy),
            backorder_days=r.backorder_days,
            hold_over_value=r.hold_over_value,
            hold_new_customers=bool(r.hold_new_customers),
        )
        for r in rows
    }


class OrderRefs:
    """Looked-up references for a batch of orders, and the rules that need them."""

    def __init__(
        self,
        channels_by_code: dict[str, ChannelRules],
        skus_by_code: dict[str, lookup.SkuRef],
        prices: dict[int, Decimal | None],
        recipes: dict[int, dict[int, int]],
        codes_by_id: dict[int, str],
        customers_by_code: dict[str, CustomerRef],
        sites: list[SiteRef],
    ) -> None:
        self._channels = channels_by_code
        self._skus = skus_by_code
        self._prices = prices
        self._recipes = recipes
        self._codes = codes_by_id
        self._customers = customers_by_code
        self._sites = sites

    @classmethod
    def load(cls, conn: Connection, cmds: Sequence[CaptureOrder]) -> OrderRefs:
        """Look up everything ``cmds`` name."""
        found = lookup.skus_by_code(conn, {ln.sku for c in cmds for ln in c.lines})
        recipes = kit_recipes(conn, (s.id for s in found.values()))
        ids = {s.id for s in found.values()} | {c for r in recipes.values() for c in r}
        codes: dict[int, str] = {}
        prices: dict[int, Decimal | None] = {}
        if ids:
            for r in conn.execute(
                select(skus.c.id, skus.c.code, skus.c.unit_price).where(among(skus.c.id, ids))
            ):
                codes[int(r.id)] = r.code
                prices[int(r.id)] = r.unit_price
        return cls(
            load_channels(conn, {c.channel for c in cmds}),
            found,
            prices,
            recipes,
            codes,
            _customers(conn, {c.customer for c in cmds if c.customer}),
            _sites(conn),
        )

    def check(self, cmd: CaptureOrder) -> ChannelRules:
        """Check every reference of ``cmd``; its channel's rules."""
        found = self.problems(cmd)
        if found:
            raise found[0]
        return self._channels[cmd.channel]

    def problems(self, cmd: CaptureOrder) -> list[StockflowError]:
        """Every reference of ``cmd`` that is unknown (or an inactive SKU), in field order."""
        found: list[StockflowError] = []
        if cmd.channel not in self._channels:
            found.append(UnknownChannel(f"no channel with code {cmd.channel!r}", field="channel"))
        for i, line in enumerate(cmd.lines):
            sku = self._skus.get(line.sku)
            if sku is None:
                found.append(UnknownSku(f"no SKU with code {line.sku!r}", field=f"lines[{i}].sku"))
            elif not sku.active:
                found.append(InactiveSku(f"SKU {line.sku} is inactive", field=f"lines[{i}].sku"))
        if cmd.customer and cmd.customer not in self._customers:
            found.append(
                UnknownCustomer(f"no customer with code {cmd.customer!r}", field="customer")
            )
        return found

    def channel(self, code: str) -> ChannelRules:
        """A checked channel's rules."""
        return self._channels[code]

    def channel_id(self, code: str) -> int | None:
        """The channel's id, if it exists."""
        found = self._channels.get(code)
        return None if found is None else found.id

    def customer_id(self, cmd: CaptureOrder) -> int | None:
        """The customer's id, if the order names one."""
        return self._customers[cmd.customer].id if cmd.customer else None

    def sku_id(self, code: str) -> int:
        """A checked SKU's id."""
        return self._skus[code].id

    def stock_codes(self, cmds: Iterable[CaptureOrder]) -> set[str]:
        """The SKUs whose stock these orders draw on (a kit draws on its components)."""
        out: set[str] = set()
        for cmd in cmds:
            for need in self.needs(cmd):
                out.add(need.sku)
        return out

    def needs(self, cmd: CaptureOrder) -> list[Need]:
        """Units per SKU each line needs; a kit line needs its components."""
        out = []
        for line_no, line in enumerate(cmd.lines, start=1):
            sku = self._skus[line.sku]
            recipe = self._recipes.get(sku.id)
            if recipe is None:
                out.append(Need(line_no, sku.id, sku.code, line.qty))
                continue
            for component, per_kit in sorted(recipe.items()):
                out.append(Need(line_no, component, self._codes[component], line.qty * per_kit))
        return out

    def value(self, cmd: CaptureOrder) -> Decimal:
        """The order's value: line price, else the SKU's list price, times quantity."""
        total = Decimal(0)
        for line in cmd.lines:
            price = line.unit_price
            if price is None:
                price = self._prices.get(self._skus[line.sku].id)
            total += (price or Decimal(0)) * line.qty
        return total

    def sites(self, cmd: CaptureOrder, channel: ChannelRules) -> list[Site]:
        """Where the channel may ship from, with the distance to the ship-to point."""
        target = coords(cmd.ship_to_latitude, cmd.ship_to_longitude)
        if target is None and cmd.customer:
            target = self._customers[cmd.customer].coordinates
        allowed = set(channel.ship_from)
        return [
            Site(s.id, s.code, distance_km(target, s.coordinates))
            for s in self._sites
            if not allowed or s.id in allowed
        ]

    def hold_reasons(self, cmd: CaptureOrder, channel: ChannelRules) -> list[str]:
        """Why a person should look at this order before it goes out (empty: no hold)."""
        reasons = []
        value = self.value(cmd)
        if channel.hold_over_value is not None and value > channel.hold_over_value:
            reasons.append(f"order value {value:.2f} is over {channel.hold_over_value:.2f}")
        if (
            channel.hold_new_customers
            and cmd.customer
            and not self._customers[cmd.customer].has_orders
        ):
            reasons.append(f"new customer {cmd.customer}")
        address = (cmd.ship_to or "").strip()
        if len([p for p in address.replace("\n", ",").split(",") if p.strip()]) < 2:
            reasons.append("address incomplete: give at least street and town")
        return reasons

    def promise_date(
        self,
        conn: Connection,
        needs: Sequence[Need],
        missing: dict[int, int],
        *,
        today: date,
        ahead: Mapping[int, int],
    ) -> date | None:
        """The first day incoming supply covers every missing unit, after earlier backorders.

        Two lines short of one SKU (two kits sharing a part) wait for their sum;
        ``ahead`` holds units per SKU id that orders earlier in the same batch,
        not written yet, already wait for.
        """
        short: dict[int, int] = defaultdict(int)
        for index, qty in missing.items():
            if qty > 0:
                short[needs[index].sku_id] += qty
        latest = today
        for sku_id, qty in sorted(short.items()):
            day = _first_day_covering(conn, sku_id, qty + ahead.get(sku_id, 0), today=today)
            if day is None:
                return None
            latest = max(latest, day)
        return latest


def _first_day_covering(conn: Connection, sku_id: int, short: int, *, today: date) -> date | None:
    open_supply = incoming_supply.c.qty - incoming_supply.c.received_qty
    rows = conn.execute(
        select(incoming_supply.c.expected_on, func.sum(open_supply).label("qty"))
        .where(
            incoming_supply.c.sku_id == sku_id,
            incoming_supply.c.expected_on >= today,
            open_supply > 0,
            # A received transfer brings nothing more: what did not arrive was lost.
            ~select(transfers.c.id)
            .where(
                incoming_supply.c.kind == "transfer",
                transfers.c.id == incoming_supply.c.document_id,
                transfers.c.status != "in_transit",
            )
            .exists(),
            # A closed or cancelled purchase order brings nothing more.
            ~select(purchase_orders.c.id)
            .where(
                incoming_supply.c.kind == "purchase",
                purchase_orders.c.id == incoming_supply.c.document_id,
                purchase_orders.c.status.in_(("closed", "cancelled")),
            )
            .exists(),
        )
        .group_by(incoming_supply.c.expected_on)
        .order_by(incoming_supply.c.expected_on)
    ).all()
    need = short + _waiting(conn, sku_id)
    cumulative = 0
    for r in rows:
        cumulative += int(r.qty)
        if cumulative >= need:
            return r.expected_on  # type: ignore[no-any-return]
    return None


def _waiting(conn: Connection, sku_id: int) -> int:
    """Units of a SKU that earlier orders are still waiting for (first in line for supply)."""
    waiting_states = ("backordered", "partially_allocated")
    ordered = conn.execute(
        select(func.coalesce(func.sum(order_lines.c.qty - order_lines.c.cancelled_qty), 0))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(order_lines.c.sku_id == sku_id, orders.c.status.in_(waiting_states))
    ).scalar_one()
    held = conn.execute(
        select(
            func.coalesce(
                func.sum(allocations.c.qty - allocations.c.released_qty - allocations.c.moved_qty),
                0,
            )
        )
        .join(orders, orders.c.reservation_id == allocations.c.reservation_id)
        .join(positions, positions.c.id == allocations.c.position_id)
        .where(positions.c.sku_id == sku_id, orders.c.status.in_(waiting_states))
    ).scalar_one()
    return max(0, int(ordered) - int(held))


def _customers(conn: Connection, codes: set[str]) -> dict[str, CustomerRef]:
    if not codes:
        return {}
    rows = conn.execute(select(customers).where(among(customers.c.code, codes))).all()
    seen = {
        r.customer_id
        for r in conn.execute(
            select(orders.c.customer_id)
            .where(among(orders.c.customer_id, [r.id for r in rows]))
            .distinct()
        )
    }
    return {
        r.code: CustomerRef(int(r.id), coords(r.latitude, r.longitude), r.id in seen) for r in rows
    }


def _sites(conn: Connection) -> list[SiteRef]:
    rows = conn.execute(
        select(locations.c.id, locations.c.code, locations.c.latitude, locations.c.longitude)
        .where(locations.c.kind.in_(sorted(SELLABLE_KINDS)))
        .order_by(locations.c.code)
    )
    return [SiteRef(int(r.id), r.code, coords(r.latitude, r.longitude)) for r in rows]
