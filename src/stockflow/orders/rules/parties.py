"""Channels, customers and kits as commands, with the checks that need no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from stockflow.errors import InvalidInput
from stockflow.orders.rules.channels import checked_policy
from stockflow.stock.rules.catalogue import checked_code

CHANNEL_KINDS = ("web", "wholesale", "phone", "marketplace", "spreadsheet", "other")


@dataclass(frozen=True, slots=True)
class NewChannel:
    """A sales channel and its rules."""

    code: str
    name: str
    kind: str = "web"
    priority: int = 0
    ship_from: tuple[str, ...] = ()
    max_splits: int = 1
    allow_partial: bool = False
    backorder_policy: str = "allow"
    backorder_days: int | None = None
    hold_over_value: Decimal | None = None
    hold_new_customers: bool = False

    def checked(self) -> NewChannel:
        """This channel with its fields checked."""
        code = checked_code(self.code, field="code", max_length=32)
        if self.kind not in CHANNEL_KINDS:
            raise InvalidInput(f"use one of: {', '.join(CHANNEL_KINDS)}", field="kind")
        if self.max_splits < 1:
            raise InvalidInput("must be at least 1", field="max_splits")
        if self.hold_over_value is not None and self.hold_over_value < 0:
            raise InvalidInput("must not be negative", field="hold_over_value")
        policy, days = checked_policy(self.backorder_policy, self.backorder_days)
        return NewChannel(
            code, (self.name or code).strip(), self.kind, self.priority, tuple(self.ship_from),
            self.max_splits, self.allow_partial, policy.value, days, self.hold_over_value,
            self.hold_new_customers,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A customer and where they are."""

    code: str
    name: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None

    def checked(self) -> NewCustomer:
        """This customer with its fields checked."""
        code = checked_code(self.code, field="code", max_length=64)
        if not (self.name or "").strip():
            raise InvalidInput("is required", field="name")
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise InvalidInput("must be between -90 and 90", field="latitude")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise InvalidInput("must be between -180 and 180", field="longitude")
        return NewCustomer(
            code, self.name.strip(), self.email, self.phone, self.address, self.latitude,
            self.longitude,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class KitRecipe:
    """A kit SKU and the components one kit takes."""

    kit: str
    components: dict[str, int] = field(default_factory=dict)

    def checked(self) -> KitRecipe:
        """The recipe, checked: at least one component, positive quantities, not itself."""
        if not self.components:
            raise InvalidInput("a kit needs at least one component", field="components")
        for sku, qty in self.components.items():
            if sku == self.kit:
                raise InvalidInput("a kit cannot contain itself", field=f"components.{sku}")
            if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
                raise InvalidInput("must be a whole number above 0", field=f"components.{sku}")
        return self
