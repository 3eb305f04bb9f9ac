"""The tables' lists of allowed words are the rules' words, and the database enforces them.

Adapters sit below the rules, so each ``one_of`` check spells its words out;
these tests hold every list equal to the enum (or tuple) the rules decide with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest
from sqlalchemy import CheckConstraint, Table, insert
from sqlalchemy.exc import IntegrityError

from stockflow.adapters.database import Database
from stockflow.adapters.tables import exceptions, metadata, orders
from stockflow.adapters.tables.base import one_of
from stockflow.counts.rules import CountStatus, LineStatus
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.floor.rules import TaskStatus, WaveStatus
from stockflow.orders.rules.channels import BackorderPolicy
from stockflow.orders.rules.parties import CHANNEL_KINDS
from stockflow.receiving.rules.purchasing import POStatus
from stockflow.returns.rules import Disposition, ReturnStatus
from stockflow.stock.rules.access import Role, ScopeKind
from stockflow.stock.rules.exceptions import ExceptionKind, ExceptionState
from stockflow.stock.rules.moves import Reason
from stockflow.stock.rules.order_lifecycle import OrderStatus, ShipmentStatus
from stockflow.stock.rules.places import BinRole, LocationKind
from stockflow.stock.rules.reservation_lifecycle import ReservationStatus
from stockflow.transfers.rules import TransferStatus

NOW = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def words(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


# (table, column) -> the words the rules use for it.
RULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("locations", "kind"): words(LocationKind),
    ("bins", "role"): words(BinRole),
    ("stock_moves", "reason"): words(Reason),
    ("reservations", "status"): words(ReservationStatus),
    ("exceptions", "kind"): words(ExceptionKind),
    ("exceptions", "state"): words(ExceptionState),
    ("channels", "kind"): CHANNEL_KINDS,
    ("channels", "backorder_policy"): words(BackorderPolicy),
    ("orders", "status"): words(OrderStatus),
    ("shipments", "status"): words(ShipmentStatus),
    ("tracking_events", "status"): words(ShipmentStatus),
    ("waves", "status"): words(WaveStatus),
    ("pick_tasks", "status"): words(TaskStatus),
    ("purchase_orders", "status"): words(POStatus),
    ("transfers", "status"): words(TransferStatus),
    ("rmas", "status"): words(ReturnStatus),
    ("rma_dispositions", "disposition"): words(Disposition),
    ("cycle_counts", "status"): words(CountStatus),
    ("count_lines", "status"): words(LineStatus),
    ("users", "role"): words(Role),
    ("audit_log", "role"): words(Role),
    ("user_scopes", "kind"): words(ScopeKind),
    ("webhook_subscriptions", "status"): words(SubscriptionStatus),
    ("webhook_deliveries", "status"): words(DeliveryStatus),
}
# Lists no rule module names: the table is where they are written down.
TABLE_ONLY = {("incoming_supply", "kind"), ("audit_log", "via"), ("audit_log", "outcome")}
# Column names that always hold a word from a fixed list.
VOCABULARY = {
    "status",
    "state",
    "kind",
    "role",
    "reason",
    "disposition",
    "backorder_policy",
    "via",
    "outcome",
}
# ...except where the name means prose: why the customer sends it back, in their words.
# Words any writer may choose, or a vocabulary that grows with each new importer.
FREE_TEXT = {("rmas", "reason"), ("import_runs", "kind")}


def one_of_lists() -> dict[tuple[str, str], tuple[str, ...]]:
    """Every ``one_of`` check in the schema: its table and column, and the words it allows."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for table in metadata.sorted_tables:
        for check in table.constraints:
            if isinstance(check, CheckConstraint) and "one_of" in check.info:
                column, allowed = check.info["one_of"]
                found[(table.name, column)] = allowed
    return found


def test_every_list_of_words_is_the_rules_list() -> None:
    found = one_of_lists()
    assert set(found) == set(RULES) | TABLE_ONLY
    for key, expected in RULES.items():
        assert sorted(found[key]) == sorted(expected), key


def test_every_status_kind_or_role_column_has_its_list() -> None:
    vocabulary = {
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name in VOCABULARY and (table.name, column.name) not in FREE_TEXT
    }
    assert vocabulary == set(one_of_lists())


@pytest.mark.parametrize("odd", [[], ["open", "o'clock"], ["Open"], ["in transit"]])
def test_a_list_of_words_takes_plain_lower_case_words_only(odd: list[str]) -> None:
    with pytest.raises(ValueError, match="plain lower-case words"):
        one_of("status", odd)


def _write(url: str, table: Table, row: dict[str, object]) -> None:
    db = Database(url)
    try:
        with db.write() as conn:
            conn.execute(insert(table).values(row))
    finally:
        db.dispose()


def test_the_database_refuses_a_word_no_rule_knows(db_url: str) -> None:
    row = {"state": "open", "message": "m", "created_at": NOW, "updated_at": NOW}
    _write(db_url, exceptions, {**row, "kind": ExceptionKind.SHORT_PICK.value})
    with pytest.raises(IntegrityError, match="ck_exceptions_kind"):
        _write(db_url, exceptions, {**row, "kind": "mislaid"})


def test_an_order_cannot_be_given_a_status_outside_its_lifecycle(db_url: str) -> None:
    with pytest.raises(IntegrityError, match="ck_orders_status"):
        _write(db_url, orders, {
            "id": "O-1", "channel_id": 1, "status": "lost", "reservation_id": "R-1",
            "created_at": NOW, "updated_at": NOW,
        })  # fmt: skip
