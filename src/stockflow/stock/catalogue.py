"""Adding SKUs, locations, bins and safety buffers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select, update

from stockflow.adapters.sets import among
from stockflow.adapters.tables import bins, locations, skus, stock_buffers
from stockflow.adapters.upsert import upsert
from stockflow.errors import AlreadyExists, UnknownLocation
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.rules.catalogue import NewBin, NewLocation, NewSku
from stockflow.stock.rules.places import DEFAULT_BIN
from stockflow.stock.rules.quantities import non_negative_quantity


def add_skus(conn: Connection, items: list[NewSku], *, now: datetime) -> None:
    """Add SKUs (already checked); any code that exists already refuses the whole batch."""
    codes = [s.code for s in items]
    taken = lookup.skus_by_code(conn, codes)
    if taken:
        first = sorted(taken)[0]
        raise AlreadyExists(
            f"SKU {first} already exists",
            field="code",
            row=codes.index(first) + 1 if len(codes) > 1 else None,
        )
    conn.execute(
        skus.insert(),
        [
            {
                "code": s.code,
                "name": s.name,
                "base_unit": s.base_unit,
                "active": s.active,
                "lot_tracked": s.lot_tracked,
                "unit_price": s.unit_price,
                "attributes": s.attributes,
                "created_at": now,
            }
            for s in items
        ],
    )


def set_sku_active(conn: Connection, code: str, active: bool) -> None:
    """Switch a SKU on or off; an inactive SKU takes no receipts or reservations."""
    update_sku(conn, code, active=active)


def update_sku(
    conn: Connection, code: str, *, active: bool | None = None, unit_price: Decimal | None = None
) -> None:
    """Switch a SKU on or off and/or give it a new list price; None leaves a field as it is."""
    sku = lookup.sku_by_code(conn, code)
    values: dict[str, object] = {}
    if active is not None:
        values["active"] = active
    if unit_price is not None:
        values["unit_price"] = unit_price
    if values:
        conn.execute(update(skus).where(skus.c.id == sku.id).values(values))


def add_locations(conn: Connection, items: list[NewLocation], *, now: datetime) -> None:
    """Add locations (already checked), each with its default bin."""
    codes = [loc.code for loc in items]
    taken = lookup.locations_by_code(conn, codes)
    if taken:
        first = sorted(taken)[0]
        raise AlreadyExists(
            f"location {first} already exists", field="code", row=codes.index(first) + 1
        )
    conn.execute(
        locations.insert(),
        [
            {
                "code": loc.code,
                "name": loc.name,
                "kind": loc.kind,
                "address": loc.address,
                "latitude": loc.latitude,
                "longitude": loc.longitude,
                "allow_negative": loc.allow_negative,
                "created_at": now,
            }
            for loc in items
        ],
    )
    ids = lookup.locations_by_code(conn, codes)
    conn.execute(
        bins.insert(),
        [
            {"location_id": ids[c].id, "code": DEFAULT_BIN, "zone": None, "sequence": 0}
            for c in codes
        ],
    )


def add_bins(conn: Connection, items: list[NewBin], *, scope: Scope = EVERYWHERE) -> None:
    """Add bins (already checked) to existing locations the scope sees."""
    places = lookup.locations_by_code(conn, [b.location for b in items], scope=scope)
    rows = []
    seen: set[tuple[str, str]] = set()
    for n, b in enumerate(items, start=1):
        location = places.get(b.location)
        if location is None:
            raise UnknownLocation(f"no location with code {b.location!r}", field="location", row=n)
        if (b.location, b.code) in seen:
            raise AlreadyExists(f"bin {b.code} appears twice for {b.location}", field="code", row=n)
        seen.add((b.location, b.code))
        rows.append(
            {
                "location_id": location.id,
                "code": b.code,
                "zone": b.zone,
                "sequence": b.sequence,
                "role": b.role,
                "capacity": b.capacity,
            }
        )
    existing = {
        (r.location_id, r.code)
        for r in conn.execute(
            select(bins.c.location_id, bins.c.code).where(
                among(bins.c.location_id, {r["location_id"] for r in rows})
            )
        )
    }
    for n, row in enumerate(rows, start=1):
        if (row["location_id"], row["code"]) in existing:
            raise AlreadyExists(
                f"bin {row['code']} already exists in {items[n - 1].location}", field="code", row=n
            )
    conn.execute(bins.insert(), rows)


def set_buffer(
    conn: Connection, *, sku: str, location: str, qty: int, scope: Scope = EVERYWHERE
) -> None:
    """Keep ``qty`` units of a SKU at a location the scope sees out of available-to-promise."""
    qty = non_negative_quantity(qty, field="qty")
    sku_ref = lookup.sku_by_code(conn, sku)
    loc_ref = lookup.location_by_code(conn, location, scope=scope)
    conn.execute(
        upsert(conn, stock_buffers)
        .values(sku_id=sku_ref.id, location_id=loc_ref.id, qty=qty)
        .on_conflict_do_update(index_elements=["sku_id", "location_id"], set_={"qty": qty})
    )
