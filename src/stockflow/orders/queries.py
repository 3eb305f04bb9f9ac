"""Channels (with their rules and ring fences), customers and kits as people read them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from stockflow.adapters.paging import Key, Keyset, Page
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    channel_locations,
    channels,
    customers,
    incoming_supply,
    kit_components,
    locations,
    ring_fences,
    skus,
)
from stockflow.errors import NotFound
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.visibility import channel_condition, customer_condition


@dataclass(frozen=True, slots=True)
class FenceView:
    """Units of a SKU at a location that only one channel may take."""

    sku: str
    location: str
    qty: int


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A sales channel with the rules it applies at capture."""

    code: str
    name: str
    kind: str
    priority: int
    ship_from: tuple[str, ...]
    max_splits: int
    allow_partial: bool
    backorder_policy: str
    backorder_days: int | None
    hold_over_value: Decimal | None
    hold_new_customers: bool
    fences: tuple[FenceView, ...]


@dataclass(frozen=True, slots=True)
class CustomerView:
    """A customer and where they are."""

    code: str
    name: str
    email: str | None
    phone: str | None
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SupplyView:
    """Stock expected to arrive."""

    id: int
    kind: str
    reference: str
    sku: str
    location: str
    qty: int
    received_qty: int
    expected_on: date


# Highest priority first (the order capture serves them in), then by code.
CHANNELS = Keyset("channels", Key(channels.c.priority, descending=True), channels.c.code)
CUSTOMERS = Keyset("customers", customers.c.code)


def channel_page(
    conn: Connection, *, after: str | None = None, limit: int, scope: Scope = EVERYWHERE
) -> Page[ChannelView]:
    """Channels the scope sees, highest priority first, then by code, after cursor ``after``."""
    query = select(channels)
    seen = channel_condition(scope)
    if seen is not None:
        query = query.where(seen)
    page = CHANNELS.page(conn, query, after=after, limit=limit)
    views = _channel_views(conn, page.items)
    return Page(views, page.next)


def channel_view(conn: Connection, code: str, *, scope: Scope = EVERYWHERE) -> ChannelView | None:
    """The channel with ``code`` if the scope sees it."""
    query = select(channels).where(channels.c.code == code)
    seen = channel_condition(scope)
    if seen is not None:
        query = query.where(seen)
    found = _channel_views(conn, conn.execute(query).all())
    return found[0] if found else None


def _channel_views(conn: Connection, rows: Sequence[Row[Any]]) -> list[ChannelView]:
    """Channels with where they ship from and their ring fences."""
    ids = [r.id for r in rows]
    ship_from: dict[int, list[str]] = defaultdict(list)
    fences: dict[int, list[FenceView]] = defaultdict(list)
    if ids:
        for link in conn.execute(
            select(channel_locations.c.channel_id, locations.c.code)
            .join(locations, locations.c.id == channel_locations.c.location_id)
            .where(among(channel_locations.c.channel_id, ids))
            .order_by(locations.c.code)
        ):
            ship_from[link.channel_id].append(link.code)
        for f in conn.execute(
            select(
                ring_fences.c.channel_id,
                skus.c.code.label("sku"),
                locations.c.code.label("location"),
                ring_fences.c.qty,
            )
            .join(skus, skus.c.id == ring_fences.c.sku_id)
            .join(locations, locations.c.id == ring_fences.c.location_id)
            .where(among(ring_fences.c.channel_id, ids))
            .order_by(skus.c.code, locations.c.code)
        ):
            fences[f.channel_id].append(FenceView(f.sku, f.location, int(f.qty)))
    return [
        ChannelView(
            code=r.code,
            name=r.name,
            kind=r.kind,
            priority=int(r.priority),
            ship_from=tuple(ship_from[r.id]),
            max_splits=int(r.max_splits),
            allow_partial=bool(r.allow_partial),
            backorder_policy=r.backorder_policy,
            backorder_days=r.backorder_days,
            hold_over_value=r.hold_over_value,
            hold_new_customers=bool(r.hold_new_customers),
            fences=tuple(fences[r.id]),
        )
        for r in rows
    ]


def customer_page(
    conn: Connection,
    *,
    after: str | None = None,
    code: str | None = None,
    limit: int,
    scope: Scope = EVERYWHERE,
) -> Page[CustomerView]:
    """Customers the scope sees in code order, after cursor ``after``; or the one with ``code``."""
    query = select(customers)
    seen = customer_condition(scope)
    if seen is not None:
        query = query.where(seen)
    if code is not None:
        query = query.where(customers.c.code == code)
    return CUSTOMERS.page(conn, query, after=after, limit=limit).map(
        lambda r: CustomerView(
            code=r.code,
            name=r.name,
            email=r.email,
            phone=r.phone,
            address=r.address,
            latitude=r.latitude,
            longitude=r.longitude,
            created_at=r.created_at,
        )
    )


def kit_components_of(conn: Connection, kit: str) -> dict[str, int]:
    """The components one unit of a kit takes, by SKU code (empty: not a kit)."""
    kit_sku = skus.alias("kit_sku")
    rows = conn.execute(
        select(skus.c.code, kit_components.c.qty)
        .join(kit_components, kit_components.c.component_sku_id == skus.c.id)
        .join(kit_sku, kit_sku.c.id == kit_components.c.kit_sku_id)
        .where(kit_sku.c.code == kit)
        .order_by(skus.c.code)
    )
    return {r.code: int(r.qty) for r in rows}


def supply_view(conn: Connection, supply_id: int) -> SupplyView:
    """One line of incoming supply, or ``NotFound``."""
    r = conn.execute(
        select(
            incoming_supply,
            skus.c.code.label("sku"),
            locations.c.code.label("location"),
        )
        .join(skus, skus.c.id == incoming_supply.c.sku_id)
        .join(locations, locations.c.id == incoming_supply.c.location_id)
        .where(incoming_supply.c.id == supply_id)
    ).first()
    if r is None:
        raise NotFound(f"no incoming supply {supply_id}", field="id")
    return SupplyView(
        id=int(r.id),
        kind=r.kind,
        reference=r.reference,
        sku=r.sku,
        location=r.location,
        qty=int(r.qty),
        received_qty=int(r.received_qty),
        expected_on=r.expected_on,
    )
