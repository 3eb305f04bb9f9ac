"""Shipping transfers between locations, and the in-transit location they travel through.

Shipping moves free units from the source's storage bins to the destination's
in-transit location and records them as incoming supply of the destination,
so its promise dates count them from the expected date. Receiving them is
``transfer_receipts``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Connection, select

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    bins,
    incoming_supply,
    locations,
    lots,
    positions,
    transfers,
)
from stockflow.adapters.upsert import upsert
from stockflow.errors import (
    Conflict,
    ExpiredLot,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidInput,
    UnknownSku,
)
from stockflow.stock import lookup
from stockflow.stock.ids import new_id
from stockflow.stock.ledger import post_moves
from stockflow.stock.locks import in_lock_order
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.commands import Place, PostMove
from stockflow.stock.rules.events import SupplyChanged, TransferLine, TransferShipped
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.places import DEFAULT_BIN, SELLABLE_KINDS, BinRole, LocationKind
from stockflow.transfers.queries import TransferView, load_transfer
from stockflow.transfers.rules import (
    Pick,
    ShipTransfer,
    Source,
    TransferLineIn,
    TransferStatus,
    plan_picks,
    usable,
)


def transit_code(destination: lookup.LocationRef) -> str:
    """The code of the in-transit location of transfers going to ``destination``."""
    code = f"TRANSIT-{destination.code}"
    return code if len(code) <= 32 else f"TRANSIT-{destination.id}"


def in_transit_location(conn: Connection, destination: lookup.LocationRef, *, now: datetime) -> str:
    """The destination's in-transit location (with its default bin), created on first use."""
    code = transit_code(destination)
    conn.execute(
        upsert(conn, locations).on_conflict_do_nothing(),
        {"code": code, "name": f"In transit to {destination.code}",
         "kind": LocationKind.IN_TRANSIT.value, "created_at": now},
    )  # fmt: skip
    found = lookup.location_by_code(conn, code)
    if found.kind != LocationKind.IN_TRANSIT.value:
        raise Conflict(f"location {code} exists but is a {found.kind}", field="to")
    conn.execute(
        upsert(conn, bins).on_conflict_do_nothing(),
        {"location_id": found.id, "code": DEFAULT_BIN, "sequence": 0},
    )
    return code


# shipping -----------------------------------------------------------------------------


def ship_transfer(
    conn: Connection, cmd: ShipTransfer, *, today: date, now: datetime, scope: Scope = EVERYWHERE
) -> TransferView:
    """Ship every line or none; a retry with the same idempotency key answers the first shipment.

    Units leave only from a location of ``scope``; any other is refused by name.
    """
    require_location(scope, cmd.from_location, field="from")
    earlier = _replay(conn, cmd)
    if earlier is not None:
        return earlier
    cmd = cmd.checked(today=today)
    source, destination = _ends(conn, cmd)
    picks = _pick(conn, cmd, source, today=today)
    transit = in_transit_location(conn, destination, now=now)
    transfer_id = new_id("TR")
    conn.execute(
        transfers.insert().values(
            id=transfer_id, from_location_id=source.id, to_location_id=destination.id,
            status=TransferStatus.IN_TRANSIT.value, expected_on=cmd.expected_on,
            idempotency_key=cmd.idempotency_key, created_by=cmd.actor, created_at=now,
            updated_at=now,
        )
    )  # fmt: skip
    moves = [
        PostMove(
            sku=line.sku,
            qty=p.qty,
            reason=Reason.TRANSFER_OUT.value,
            source=Place(source.code, p.source.bin_code, p.source.lot or None),
            target=Place(transit, DEFAULT_BIN, p.source.lot or None),
            actor=cmd.actor,
            reference=transfer_id,
        )
        for line, line_picks in picks
        for p in line_picks
    ]
    post_moves(conn, moves, now=now)
    _record_supply(
        conn, transfer_id, destination_id=destination.id, picks=picks,
        expected_on=cmd.expected_on, now=now,
    )  # fmt: skip
    view = load_transfer(conn, transfer_id)
    lines = tuple(TransferLine(ln.line_no, ln.sku, ln.lot, ln.shipped) for ln in view.lines)
    shipped = TransferShipped(
        view.id, view.from_location, view.to_location, view.expected_on, lines
    )
    record(conn, shipped, SupplyChanged.of((ln.sku for ln in view.lines), "transfer"), now=now)
    return view


def _replay(conn: Connection, cmd: ShipTransfer) -> TransferView | None:
    """The transfer shipped earlier under this key, if the request is the same one."""
    if cmd.idempotency_key is None:
        return None
    found = conn.execute(
        select(transfers.c.id).where(transfers.c.idempotency_key == cmd.idempotency_key)
    ).scalar()
    if found is None:
        return None
    view = load_transfer(conn, str(found))
    asked: dict[str, int] = defaultdict(int)
    for line in cmd.lines:
        asked[line.sku] += line.qty
    sent: dict[str, int] = defaultdict(int)
    for ln in view.lines:
        sent[ln.sku] += ln.shipped
    same = (view.from_location, view.to_location, view.expected_on) == (
        cmd.from_location,
        cmd.to_location,
        cmd.expected_on,
    )
    if not same or asked != sent:
        raise IdempotencyKeyReused(cmd.idempotency_key)
    return replace(view, replayed=True)


def _ends(conn: Connection, cmd: ShipTransfer) -> tuple[lookup.LocationRef, lookup.LocationRef]:
    """Source and destination: both must be sites that hold sellable stock."""
    source = lookup.location_by_code(conn, cmd.from_location, field="from")
    destination = lookup.location_by_code(conn, cmd.to_location, field="to")
    for place, field in ((source, "from"), (destination, "to")):
        if place.kind not in {k.value for k in SELLABLE_KINDS}:
            raise InvalidInput(
                f"{place.code} is a {place.kind} location; transfers go between sites",
                field=field,
            )
    return source, destination


def _pick(
    conn: Connection, cmd: ShipTransfer, source: lookup.LocationRef, *, today: date
) -> list[tuple[TransferLineIn, list[Pick]]]:
    """Lock the source's storage positions of these SKUs and choose units for every line.

    The positions are locked (in lock order) before their free units are
    read, so the plan is exact; ``post_moves`` checks it again anyway.
    """
    refs = _skus(conn, cmd.lines)
    free = _sources(conn, source.id, {r.id for r in refs.values()})
    left = {s.position_id: s.free for s in free}
    out = []
    for i, line in enumerate(cmd.lines):
        mine = [
            replace(s, free=left[s.position_id])
            for s in free
            if s.sku_id == refs[line.sku].id and (line.lot is None or s.lot == line.lot)
        ]
        fresh = usable(mine, today=today)
        if line.lot is not None and mine and not fresh:
            raise ExpiredLot(
                f"lot {line.lot} of SKU {line.sku} has expired", field=f"lines[{i}].lot"
            )
        available = sum(s.free for s in fresh)
        if available < line.qty:
            raise InsufficientStock(
                sku=line.sku, requested=line.qty, available=available,
                location=source.code, field=f"lines[{i}].qty",
            )  # fmt: skip
        picks = plan_picks(fresh, line.qty)
        for p in picks:
            left[p.source.position_id] -= p.qty
        out.append((line, picks))
    return out


def _skus(conn: Connection, lines: tuple[TransferLineIn, ...]) -> dict[str, lookup.SkuRef]:
    """The SKUs the lines name; a lot only for a lot-tracked one."""
    refs = lookup.skus_by_code(conn, {ln.sku for ln in lines})
    for i, line in enumerate(lines):
        ref = refs.get(line.sku)
        if ref is None:
            raise UnknownSku(f"no SKU with code {line.sku!r}", field=f"lines[{i}].sku")
        if line.lot and not ref.lot_tracked:
            raise InvalidInput(
                f"SKU {line.sku} is not lot-tracked: leave the lot empty", field=f"lines[{i}].lot"
            )
    return refs


def _sources(conn: Connection, location_id: int, sku_ids: set[int]) -> list[Source]:
    """Storage positions of these SKUs at the location with free units, locked in lock order."""
    query = (
        select(
            positions.c.id, positions.c.sku_id, positions.c.lot_code, positions.c.on_hand,
            positions.c.allocated, bins.c.code, bins.c.sequence, lots.c.expires_on,
        )
        .join(bins, bins.c.id == positions.c.bin_id)
        .outerjoin(
            lots, (lots.c.sku_id == positions.c.sku_id) & (lots.c.code == positions.c.lot_code)
        )
        .where(
            positions.c.location_id == location_id,
            among(positions.c.sku_id, sku_ids),
            bins.c.role == BinRole.STORAGE.value,
            positions.c.on_hand - positions.c.allocated > 0,
        )
    )  # fmt: skip
    return [
        Source(
            int(r.id),
            int(r.sku_id),
            r.code,
            int(r.sequence),
            r.lot_code,
            r.expires_on,
            int(r.on_hand) - int(r.allocated),
        )
        for r in conn.execute(in_lock_order(query))
    ]


def _record_supply(
    conn: Connection, transfer_id: str, *, destination_id: int,
    picks: list[tuple[TransferLineIn, list[Pick]]], expected_on: date, now: datetime,
) -> None:  # fmt: skip
    """One incoming-supply line per (SKU, lot) shipped, numbered in the order of the request."""
    per_line: dict[tuple[int, str], int] = {}
    for _, line_picks in picks:
        for p in line_picks:
            key = (p.source.sku_id, p.source.lot)
            per_line[key] = per_line.get(key, 0) + p.qty
    conn.execute(
        incoming_supply.insert(),
        [
            {
                "kind": "transfer",
                "reference": transfer_id,
                "document_id": transfer_id,
                "line_no": n,
                "sku_id": sku_id,
                "location_id": destination_id,
                "qty": qty,
                "lot_code": lot or None,
                "expected_on": expected_on,
                "created_at": now,
            }
            for n, ((sku_id, lot), qty) in enumerate(per_line.items(), start=1)
        ],
    )
