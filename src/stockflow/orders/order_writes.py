"""The rows a batch of captured orders writes, gathered first and written in one go."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam

from stockflow.adapters import bulk
from stockflow.adapters.tables import (
    allocations,
    audit_log,
    exceptions,
    order_decisions,
    order_lines,
    orders,
    positions,
    reservations,
    ring_fences,
)
from stockflow.orders.order_refs import OrderRefs
from stockflow.orders.rules.fulfilment import OrderPlan
from stockflow.stock.changes import touched
from stockflow.stock.rules.allocation import StockBook
from stockflow.stock.rules.commands import CaptureOrder
from stockflow.stock.rules.events import AllocatedLine
from stockflow.stock.rules.exceptions import ExceptionKind, ExceptionState
from stockflow.stock.rules.order_lifecycle import OrderStatus
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus

_OPEN = ReservationStatus.OPEN.value  # looked up once: rows are built per order
_NEW = ExceptionState.OPEN.value


@dataclass
class Batch:
    """Rows to insert for new orders, and stock to mark allocated."""

    now: datetime
    order_ids: list[str] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    allocated: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    waiting: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # sku id -> units
    # Per order: (line, SKU, position) -> units this batch allocates, for its events.
    placed: dict[str, dict[tuple[int, str, int], int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    raised: set[str] = field(default_factory=set)  # orders this batch raised exceptions for

    def add_order(
        self,
        *,
        order_id: str,
        cmd: CaptureOrder,
        refs: OrderRefs,
        channel_id: int,
        status: OrderStatus,
        holds: list[str],
        promise: date | None,
        plan: OrderPlan,
        decisions: list[str],
        backordered: bool,
    ) -> None:
        """Gather the rows of one captured order."""
        reservation_id = uuid_for(order_id)
        self.order_ids.append(order_id)
        self.rows["reservations"].append(
            {
                "id": reservation_id,
                "owner_ref": f"order:{order_id}",
                "status": _OPEN,
                "idempotency_key": None,
                "created_at": self.now,
            }
        )
        self.rows["orders"].append(
            {
                "id": order_id,
                "channel_id": channel_id,
                "external_id": cmd.external_id,
                "idempotency_key": cmd.idempotency_key,
                "customer_id": refs.customer_id(cmd),
                "ship_to": cmd.ship_to,
                "ship_to_latitude": cmd.ship_to_latitude,
                "ship_to_longitude": cmd.ship_to_longitude,
                "status": status.value,
                "hold_reason": "; ".join(holds) or None,
                "promise_date": promise,
                "value": refs.value(cmd),
                "reservation_id": reservation_id,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        self._lines(order_id, reservation_id, cmd, refs, plan)
        for message in [*decisions, *(f"on hold: {h}" for h in holds)]:
            self.rows["order_decisions"].append(
                {"order_id": order_id, "at": self.now, "actor": cmd.actor, "message": message}
            )
        if holds:
            self.exception(order_id, ExceptionKind.ORDER_ON_HOLD, "; ".join(holds))
        if backordered:
            self.exception(order_id, ExceptionKind.ATP_FAILURE, "; ".join(plan.decisions))

    def _lines(
        self, order_id: str, reservation_id: str, cmd: CaptureOrder, refs: OrderRefs,
        plan: OrderPlan,
    ) -> None:  # fmt: skip
        """The order's lines and the allocations its plan made for them."""
        for line_no, line in enumerate(cmd.lines, start=1):
            self.rows["order_lines"].append(
                {
                    "order_id": order_id,
                    "line_no": line_no,
                    "sku_id": refs.sku_id(line.sku),
                    "qty": line.qty,
                    "unit_price": line.unit_price,
                    "cancelled_qty": 0,
                }
            )
        for need, a in plan.allocations:
            self.rows["allocations"].append(
                {
                    "reservation_id": reservation_id,
                    "line_no": need.line_no,
                    "position_id": a.position_id,
                    "qty": a.qty,
                }
            )
            self.allocated[a.position_id] += a.qty
            self.placed[order_id][(need.line_no, need.sku, a.position_id)] += a.qty

    def allocated_lines(self, order_id: str, book: StockBook) -> tuple[AllocatedLine, ...]:
        """What this batch allocated to an order, per line, SKU and location."""
        per: dict[tuple[int, str, str], int] = defaultdict(int)
        for (line_no, sku, pid), qty in self.placed.get(order_id, {}).items():
            per[(line_no, sku, book.candidate(pid).location_code)] += qty
        return tuple(AllocatedLine(n, s, q, loc) for (n, s, loc), q in sorted(per.items()))

    def exception(self, order_id: str, kind: ExceptionKind, message: str) -> None:
        """Raise an exception both sides see, linked to the order (its event once written)."""
        self.raised.add(order_id)
        self.rows["exceptions"].append(
            {
                "kind": kind.value,
                "state": _NEW,
                "order_id": order_id,
                "sku_id": None,
                "message": message,
                "created_at": self.now,
                "updated_at": self.now,
            }
        )

    def write(
        self, conn: Connection, book: StockBook, audited: Sequence[Mapping[str, object]] = ()
    ) -> None:
        """Write every gathered row, parents before children, and the ``audited`` rows."""
        if not self.order_ids:
            return
        bulk.write(
            conn,
            bulk.Insert(reservations, self.rows["reservations"]),
            bulk.Insert(orders, self.rows["orders"]),
            bulk.Insert(order_lines, self.rows["order_lines"]),
            bulk.Insert(allocations, self.rows["allocations"]),
            bulk.Insert(order_decisions, self.rows["order_decisions"]),
            bulk.Insert(exceptions, self.rows["exceptions"]),
            bulk.Increment(positions, {p: {"allocated": q} for p, q in self.allocated.items()}),
            bulk.Insert(audit_log, audited),
        )
        touched(conn, self.allocated, now=self.now)
        draw_fences(conn, book)


def draw_fences(conn: Connection, book: StockBook) -> None:
    """Take the ring-fenced units that channels used out of their fences."""
    draws = [
        {"c": channel, "s": sku, "l": location, "d": qty}
        for (sku, location, channel), qty in book.fence_draws.items()
        if qty
    ]
    if draws:
        conn.execute(
            ring_fences.update()
            .where(
                ring_fences.c.channel_id == bindparam("c"),
                ring_fences.c.sku_id == bindparam("s"),
                ring_fences.c.location_id == bindparam("l"),
            )
            .values(qty=ring_fences.c.qty - bindparam("d")),
            draws,
        )
        book.fence_draws.clear()


def uuid_for(order_id: str) -> str:
    """The reservation id that belongs to an order (its own id; one reservation per order)."""
    return order_id
