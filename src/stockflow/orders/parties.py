"""Setting up channels, customers, kits, ring fences and incoming supply."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, delete, select

from stockflow.adapters.outbox import record
from stockflow.adapters.tables import (
    channel_locations,
    channels,
    customers,
    incoming_supply,
    kit_components,
    ring_fences,
)
from stockflow.adapters.upsert import upsert
from stockflow.errors import AlreadyExists, InvalidInput, UnknownLocation, UnknownSku
from stockflow.orders.order_refs import UnknownChannel, load_channels
from stockflow.orders.rules.parties import KitRecipe, NewChannel, NewCustomer
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.events import SupplyChanged
from stockflow.stock.rules.quantities import non_negative_quantity, positive_quantity


def add_channel(conn: Connection, channel: NewChannel, *, now: datetime) -> None:
    """Add a channel (checked) with the locations it ships from."""
    if load_channels(conn, [channel.code]):
        raise AlreadyExists(f"channel {channel.code} already exists", field="code")
    places = lookup.locations_by_code(conn, channel.ship_from)
    for i, code in enumerate(channel.ship_from):
        if code not in places:
            raise UnknownLocation(f"no location with code {code!r}", field=f"ship_from[{i}]")
    channel_id = conn.execute(
        channels.insert()
        .values(
            code=channel.code,
            name=channel.name,
            kind=channel.kind,
            priority=channel.priority,
            max_splits=channel.max_splits,
            allow_partial=channel.allow_partial,
            backorder_policy=channel.backorder_policy,
            backorder_days=channel.backorder_days,
            hold_over_value=channel.hold_over_value,
            hold_new_customers=channel.hold_new_customers,
            created_at=now,
        )
        .returning(channels.c.id)
    ).scalar_one()
    if places:
        conn.execute(
            channel_locations.insert(),
            [{"channel_id": channel_id, "location_id": p.id} for p in places.values()],
        )


def add_customer(conn: Connection, customer: NewCustomer, *, now: datetime) -> None:
    """Add a customer (checked)."""
    taken = conn.execute(select(customers.c.id).where(customers.c.code == customer.code)).first()
    if taken is not None:
        raise AlreadyExists(f"customer {customer.code} already exists", field="code")
    conn.execute(
        customers.insert().values(
            code=customer.code,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            address=customer.address,
            latitude=customer.latitude,
            longitude=customer.longitude,
            created_at=now,
        )
    )


def set_kit(conn: Connection, recipe: KitRecipe) -> None:
    """Make a SKU a kit of these components (replacing an earlier recipe)."""
    found = lookup.skus_by_code(conn, [recipe.kit, *recipe.components])
    if recipe.kit not in found:
        raise UnknownSku(f"no SKU with code {recipe.kit!r}", field="kit")
    for sku in recipe.components:
        if sku not in found:
            raise UnknownSku(f"no SKU with code {sku!r}", field=f"components.{sku}")
    kit_id = found[recipe.kit].id
    conn.execute(delete(kit_components).where(kit_components.c.kit_sku_id == kit_id))
    conn.execute(
        kit_components.insert(),
        [
            {"kit_sku_id": kit_id, "component_sku_id": found[s].id, "qty": q}
            for s, q in recipe.components.items()
        ],
    )


def set_ring_fence(
    conn: Connection, *, channel: str, sku: str, location: str, qty: int,
    scope: Scope = EVERYWHERE,
) -> None:  # fmt: skip
    """Keep ``qty`` units of a SKU at a location for one channel only.

    A channel or a location the scope does not see is unknown.
    """
    qty = non_negative_quantity(qty, field="qty")
    rules = load_channels(conn, [channel]).get(channel) if _sees(scope, channel) else None
    if rules is None:
        raise UnknownChannel(f"no channel with code {channel!r}", field="channel")
    sku_ref = lookup.sku_by_code(conn, sku)
    place = lookup.location_by_code(conn, location, scope=scope)
    key = {"channel_id": rules.id, "sku_id": sku_ref.id, "location_id": place.id}
    conn.execute(
        upsert(conn, ring_fences)
        .values(**key, qty=qty)
        .on_conflict_do_update(index_elements=list(key), set_={"qty": qty})
    )


def _sees(scope: Scope, channel: str) -> bool:
    """Whether the scope sees the channel (as ``visibility.channel_condition`` says)."""
    return scope.suppliers is None and scope.sees_channel(channel)


def add_supply(
    conn: Connection,
    *,
    kind: str,
    reference: str,
    sku: str,
    location: str,
    qty: int,
    expected_on: date,
    now: datetime,
) -> int:
    """Record incoming stock (an open purchase or transfer) expected on a date."""
    if kind not in ("purchase", "transfer"):
        raise InvalidInput("use purchase or transfer", field="kind")
    if not reference.strip():
        raise InvalidInput("is required", field="reference")
    qty = positive_quantity(qty, field="qty")
    sku_ref = lookup.sku_by_code(conn, sku)
    place = lookup.location_by_code(conn, location)
    supply_id = conn.execute(
        incoming_supply.insert()
        .values(
            kind=kind,
            reference=reference,
            sku_id=sku_ref.id,
            location_id=place.id,
            qty=qty,
            expected_on=expected_on,
            created_at=now,
        )
        .returning(incoming_supply.c.id)
    ).scalar_one()
    # Orders already waiting for the SKU may now have a promise date, or an earlier one.
    record(conn, SupplyChanged.of([sku_ref.code], kind), now=now)
    return int(supply_id)
