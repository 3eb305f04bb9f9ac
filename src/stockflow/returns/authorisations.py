"""Returns: authorise an RMA against shipped units, close it by hand, or cancel it.

Receiving and inspecting the units are in ``returns.arrivals``. Every function
works inside the caller's transaction; the front door (``returns.front``) runs
each in one. How many units of an order line may still come back counts every RMA
of the order: an open one by what it authorised, a closed one by what really
came back, a cancelled one not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, Row, case, func, select, update

from stockflow.adapters.outbox import record
from stockflow.adapters.sets import among
from stockflow.adapters.tables import (
    channels,
    locations,
    order_lines,
    orders,
    rma_lines,
    rmas,
    shipment_items,
    shipments,
    skus,
)
from stockflow.errors import Conflict, IdempotencyKeyReused, InvalidInput
from stockflow.returns.queries import UnknownReturn, rma_seen
from stockflow.returns.rules import (
    AuthoriseReturn,
    LinePart,
    LineProgress,
    RefundLine,
    ReturnEvent,
    ReturnStatus,
    ReturnTooLarge,
    next_return_status,
    returnable_units,
    suggest_refund,
    uninspected,
)
from stockflow.stock.ids import new_id
from stockflow.stock.lookup import location_by_code
from stockflow.stock.order_lifecycle import lock_order, note
from stockflow.stock.queries.orders import kit_recipes
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location
from stockflow.stock.rules.events import (
    ReturnAuthorised,
    ReturnCancelled,
    ReturnChanged,
    ReturnClosed,
    ReturnInspected,
    ReturnReceived,
)
from stockflow.stock.rules.order_lifecycle import ShipmentStatus
from stockflow.stock.rules.places import SELLABLE_KINDS
from stockflow.stock.rules.quantities import positive_quantity


class _Line(Protocol):
    @property
    def line_no(self) -> int: ...

    @property
    def qty(self) -> int: ...


def checked_lines(lines: Sequence[_Line]) -> None:
    """At least one line; every line number once; every quantity a positive whole number."""
    if not lines:
        raise InvalidInput("name at least one line", field="lines")
    seen: set[int] = set()
    for i, ln in enumerate(lines):
        positive_quantity(ln.line_no, field=f"lines[{i}].line_no")
        positive_quantity(ln.qty, field=f"lines[{i}].qty")
        if ln.line_no in seen:
            raise InvalidInput(f"line {ln.line_no} is listed twice", field=f"lines[{i}].line_no")
        seen.add(ln.line_no)


def lock_rma(conn: Connection, rma_id: str, *, scope: Scope = EVERYWHERE) -> Row[Any]:
    """Lock the RMA row (every change to an RMA queues here); the row.

    An RMA ``scope`` does not see is not found, like one that does not exist.
    """
    row = conn.execute(
        select(rmas).where(rmas.c.id == rma_id, *rma_seen(scope)).with_for_update()
    ).first()
    if row is None:
        raise UnknownReturn(f"no RMA {rma_id!r}", field="rma_id")
    return row


def set_return_status(conn: Connection, rma_id: str, status: ReturnStatus, now: datetime) -> None:
    """Store the RMA's new status (already checked against the transition table)."""
    conn.execute(
        update(rmas).where(rmas.c.id == rma_id).values(status=status.value, updated_at=now)
    )


def progress(conn: Connection, rma_id: str) -> list[LineProgress]:
    """Authorised, arrived and inspected units of each line of the RMA."""
    rows = conn.execute(
        select(rma_lines.c.qty, rma_lines.c.received_qty, rma_lines.c.inspected_qty)
        .where(rma_lines.c.rma_id == rma_id)
        .order_by(rma_lines.c.line_no)
    )
    return [LineProgress(int(r.qty), int(r.received_qty), int(r.inspected_qty)) for r in rows]


_ANNOUNCED: dict[str, type[ReturnChanged]] = {
    "authorised": ReturnAuthorised,
    "received": ReturnReceived,
    "inspected": ReturnInspected,
    "closed": ReturnClosed,
    "cancelled": ReturnCancelled,
}


def announce(
    conn: Connection, event: str, *, rma_id: str, order_id: str, now: datetime,
    **details: object,
) -> None:  # fmt: skip
    """Record a ``return.<event>`` event in the same transaction as the change.

    It names the order's channel and the location the units come back to.
    """
    where = conn.execute(
        select(locations.c.code, channels.c.code)
        .select_from(rmas)
        .join(locations, locations.c.id == rmas.c.location_id)
        .join(orders, orders.c.id == rmas.c.order_id)
        .join(channels, channels.c.id == orders.c.channel_id)
        .where(rmas.c.id == rma_id)
    ).one()
    kind = _ANNOUNCED[event]
    told = kind(order_id, rma_id=rma_id, details=details, channel=where[1], sites=(where[0],))
    record(conn, told, now=now)


# --- authorising ----------------------------------------------------------------


@dataclass(slots=True)
class _OrderLine:
    """An order line as a return sees it: its stocked parts, prices, and where it went."""

    line_no: int
    sku: str
    sku_id: int
    unit_price: Decimal | None
    list_price: Decimal | None
    recipe: dict[int, int]  # stocked SKU id -> units per line unit
    shipped: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    authorised: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    shipped_from: set[int] = field(default_factory=set)

    def parts(self) -> dict[int, LinePart]:
        """Each stocked SKU of the line with its shipped and authorised units."""
        return {
            s: LinePart(per, self.shipped.get(s, 0), self.authorised.get(s, 0))
            for s, per in self.recipe.items()
        }


def authorise_return(
    conn: Connection, cmd: AuthoriseReturn, *, now: datetime, scope: Scope = EVERYWHERE
) -> tuple[str, bool]:
    """Authorise shipped units of an order to come back; the RMA id and whether it is a replay.

    The order row is locked first, so two RMAs for one order cannot both take
    the last returnable units. An order ``scope`` does not see is refused as
    an unknown one; the units come back only to one of its locations.
    """
    checked_lines(cmd.lines)
    reason = (cmd.reason or "").strip()
    if not reason:
        raise InvalidInput("say why the units come back", field="reason")
    lock_order(conn, cmd.order_id, scope=scope)
    lines = _order_lines(conn, cmd.order_id)
    if cmd.idempotency_key is not None:
        earlier = _authorised_before(conn, cmd, lines, scope)
        if earlier is not None:
            return earlier, True
    if not any(sum(ln.shipped.values()) for ln in lines.values()):
        raise Conflict(f"order {cmd.order_id} has shipped nothing to return", field="order_id")
    for i, want in enumerate(cmd.lines):
        _check_returnable(cmd.order_id, lines, i, want.line_no, want.qty)
    location_id = _return_location(conn, cmd, [lines[w.line_no] for w in cmd.lines], scope)
    rma_id = _write_rma(conn, cmd, lines, location_id=location_id, reason=reason, now=now)
    units = sum(w.qty for w in cmd.lines)
    note(conn, cmd.order_id, f"return {rma_id} authorised for {units} unit(s): {reason}",
         actor=cmd.actor, now=now)  # fmt: skip
    announce(conn, "authorised", rma_id=rma_id, order_id=cmd.order_id, now=now, units=units)
    return rma_id, False


def _write_rma(
    conn: Connection, cmd: AuthoriseReturn, lines: dict[int, _OrderLine], *, location_id: int,
    reason: str, now: datetime,
) -> str:  # fmt: skip
    """Insert the RMA with its lines and the refund it suggests; its id."""
    refund = suggest_refund(
        RefundLine(w.qty, lines[w.line_no].unit_price, lines[w.line_no].list_price)
        for w in cmd.lines
    )
    rma_id = new_id("RMA")
    conn.execute(
        rmas.insert().values(
            id=rma_id, order_id=cmd.order_id, location_id=location_id,
            status=ReturnStatus.AUTHORISED.value, reason=reason, refund_suggested=refund,
            idempotency_key=cmd.idempotency_key, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    conn.execute(rma_lines.insert(), _rma_line_rows(rma_id, cmd, lines))
    return rma_id


def _rma_line_rows(
    rma_id: str, cmd: AuthoriseReturn, lines: dict[int, _OrderLine]
) -> list[dict[str, object]]:
    """One RMA line per stocked SKU: a kit line comes back as its components."""
    rows: list[dict[str, object]] = []
    for want in cmd.lines:
        for sku_id, per in sorted(lines[want.line_no].recipe.items()):
            rows.append(
                {
                    "rma_id": rma_id, "line_no": len(rows) + 1, "order_line_no": want.line_no,
                    "sku_id": sku_id, "qty": want.qty * per,
                }
            )  # fmt: skip
    return rows


def _check_returnable(
    order_id: str, lines: dict[int, _OrderLine], i: int, line_no: int, qty: int
) -> None:
    line = lines.get(line_no)
    if line is None:
        have = ", ".join(str(n) for n in sorted(lines))
        raise InvalidInput(
            f"order {order_id} has no line {line_no}; it has {have}", field=f"lines[{i}].line_no"
        )
    allowed = returnable_units(line.parts())
    if qty > allowed:
        shipped = returnable_units(
            {s: LinePart(p.per_unit, p.shipped, 0) for s, p in line.parts().items()}
        )
        raise ReturnTooLarge(
            f"line {line_no} ({line.sku}): {shipped} shipped, {shipped - allowed} returned or"
            f" authorised already; at most {allowed} may still be returned, not {qty}",
            allowed=allowed,
            field=f"lines[{i}].qty",
        )


def _order_lines(conn: Connection, order_id: str) -> dict[int, _OrderLine]:
    """The order's lines with units shipped and already authorised per stocked SKU."""
    rows = conn.execute(
        select(order_lines.c.line_no, order_lines.c.sku_id, order_lines.c.unit_price,
               skus.c.code, skus.c.unit_price.label("list_price"))
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .where(order_lines.c.order_id == order_id)
    ).all()  # fmt: skip
    recipes = kit_recipes(conn, (int(r.sku_id) for r in rows))
    lines = {
        int(r.line_no): _OrderLine(
            int(r.line_no),
            r.code,
            int(r.sku_id),
            r.unit_price,
            r.list_price,
            recipes.get(int(r.sku_id), {int(r.sku_id): 1}),
        )
        for r in rows
    }
    _count_shipped(conn, order_id, lines)
    _count_authorised(conn, order_id, lines)
    return lines


def _count_shipped(conn: Connection, order_id: str, lines: dict[int, _OrderLine]) -> None:
    """Units gone out per line and stocked SKU, and the locations they left from."""
    for s in conn.execute(
        select(shipment_items.c.order_line_no, shipment_items.c.sku_id, shipments.c.location_id,
               shipment_items.c.qty)
        .join(shipments, shipments.c.id == shipment_items.c.shipment_id)
        .where(shipments.c.order_id == order_id,
               shipments.c.status != ShipmentStatus.PACKING.value)
    ):  # fmt: skip
        line = lines[int(s.order_line_no)]
        line.shipped[int(s.sku_id)] += int(s.qty)
        line.shipped_from.add(int(s.location_id))


def _count_authorised(conn: Connection, order_id: str, lines: dict[int, _OrderLine]) -> None:
    """Units per line and stocked SKU that earlier RMAs of the order took."""
    counted = case(
        (rmas.c.status == ReturnStatus.CLOSED.value, rma_lines.c.received_qty),
        else_=rma_lines.c.qty,
    )
    for a in conn.execute(
        select(rma_lines.c.order_line_no, rma_lines.c.sku_id, func.sum(counted).label("units"))
        .join(rmas, rmas.c.id == rma_lines.c.rma_id)
        .where(rmas.c.order_id == order_id, rmas.c.status != ReturnStatus.CANCELLED.value)
        .group_by(rma_lines.c.order_line_no, rma_lines.c.sku_id)
    ):
        lines[int(a.order_line_no)].authorised[int(a.sku_id)] += int(a.units)


def _return_location(
    conn: Connection, cmd: AuthoriseReturn, wanted: list[_OrderLine], scope: Scope
) -> int:
    """Where the units come back: the location named, else the one they shipped from.

    Either must be a location of ``scope``.
    """
    if cmd.location is not None:
        require_location(scope, cmd.location, field="location")
        place = location_by_code(conn, cmd.location, field="location")
        if place.kind not in SELLABLE_KINDS:
            raise InvalidInput(
                f"location {place.code} is a {place.kind}; returns come back to a warehouse,"
                " store or DC",
                field="location",
            )
        return place.id
    sources = set().union(*(ln.shipped_from for ln in wanted))
    if len(sources) == 1:
        source = sources.pop()
        if scope.locations is not None:
            code = conn.execute(select(locations.c.code).where(locations.c.id == source))
            require_location(scope, code.scalar_one(), field="location")
        return source
    codes = conn.execute(
        select(locations.c.code).where(among(locations.c.id, sources)).order_by(locations.c.code)
    ).scalars()
    raise InvalidInput(
        f"these lines shipped from {' and '.join(codes)}: say which location they come back to",
        field="location",
    )


def _authorised_before(
    conn: Connection, cmd: AuthoriseReturn, lines: dict[int, _OrderLine], scope: Scope
) -> str | None:
    """The RMA this key authorised before, or None; ``IdempotencyKeyReused`` if it differs
    (or if ``scope`` does not see it).
    """
    found = conn.execute(
        select(rmas.c.id, rmas.c.order_id).where(rmas.c.idempotency_key == cmd.idempotency_key)
    ).first()
    if found is None:
        return None
    mine = conn.execute(select(rmas.c.id).where(rmas.c.id == found.id, *rma_seen(scope)))
    if mine.first() is None:
        raise IdempotencyKeyReused(cmd.idempotency_key or "")
    stored = conn.execute(
        select(rma_lines.c.order_line_no, rma_lines.c.sku_id, rma_lines.c.qty)
        .where(rma_lines.c.rma_id == found.id)
        .order_by(rma_lines.c.line_no)
    ).all()
    wanted = [
        (w.line_no, sku_id, w.qty * per)
        for w in cmd.lines
        if w.line_no in lines
        for sku_id, per in sorted(lines[w.line_no].recipe.items())
    ]
    same = [(int(r.order_line_no), int(r.sku_id), int(r.qty)) for r in stored] == wanted
    if found.order_id != cmd.order_id or not same:
        raise IdempotencyKeyReused(cmd.idempotency_key or "")
    return str(found.id)


# --- closing and cancelling -----------------------------------------------------


def close_return(
    conn: Connection, rma_id: str, *, actor: str, now: datetime, scope: Scope = EVERYWHERE
) -> None:
    """Close a received RMA by hand: units not yet back are no longer expected.

    Every unit that did arrive must have its disposition first, or it would sit
    in the returns bin with no RMA to inspect it. Closing a closed RMA again
    changes nothing, so a retry is harmless.
    """
    head = lock_rma(conn, rma_id, scope=scope)
    if head.status == ReturnStatus.CLOSED.value:
        return
    status = next_return_status(head.status, ReturnEvent.CLOSE)
    lines = progress(conn, rma_id)
    waiting = uninspected(lines)
    if waiting:
        raise Conflict(
            f"{waiting} unit(s) of {rma_id} arrived and wait for inspection: give them a"
            " disposition first",
            field="rma_id",
        )
    set_return_status(conn, rma_id, status, now)
    back, authorised = sum(ln.received for ln in lines), sum(ln.qty for ln in lines)
    note(conn, head.order_id, f"return {rma_id} closed: {back} of {authorised} unit(s) came back",
         actor=actor, now=now)  # fmt: skip
    announce(conn, "closed", rma_id=rma_id, order_id=head.order_id, now=now, units=back)


def cancel_return(
    conn: Connection, rma_id: str, *, actor: str, now: datetime, scope: Scope = EVERYWHERE
) -> None:
    """Cancel an RMA nothing has arrived for; its units may be authorised again elsewhere."""
    head = lock_rma(conn, rma_id, scope=scope)
    if head.status == ReturnStatus.CANCELLED.value:
        return
    set_return_status(conn, rma_id, next_return_status(head.status, ReturnEvent.CANCEL), now)
    note(conn, head.order_id, f"return {rma_id} cancelled", actor=actor, now=now)
    announce(conn, "cancelled", rma_id=rma_id, order_id=head.order_id, now=now)
