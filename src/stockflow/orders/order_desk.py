"""The order desk: concurrent order captures group-committed."""

from __future__ import annotations

from sqlalchemy import Connection

from stockflow.adapters.desk import Desk
from stockflow.orders.capture import OrderOutcome, capture_many, check_order
from stockflow.stock.queries.orders import OrderView
from stockflow.stock.rules.commands import CaptureOrder


class OrderDesk(Desk[CaptureOrder, OrderView]):
    """Group-committed order capture."""

    name = "order-desk"

    def check(self, cmd: CaptureOrder) -> None:
        check_order(cmd)

    def keyed(self, cmd: CaptureOrder) -> bool:
        return cmd.idempotency_key is not None or cmd.external_id is not None

    def run_batch(self, conn: Connection, cmds: list[CaptureOrder]) -> list[OrderOutcome]:
        return capture_many(conn, cmds, today=self._clock().date(), now=self._clock())
