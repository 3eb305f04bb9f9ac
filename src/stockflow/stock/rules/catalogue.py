"""Catalogue and places as commands, with the checks that need no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from stockflow.errors import InvalidInput
from stockflow.stock.rules.places import BinRole, LocationKind
from stockflow.stock.rules.quantities import non_negative_quantity, positive_quantity

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
"""The code alphabet (SKU, location, bin, channel, customer, supplier), documented in docs/api.md.

Letters, digits and ``. _ -``, starting with a letter or a digit: no ``/``,
which a URL path segment could never carry, and no spaces.
"""
_CODE = re.compile(CODE_PATTERN)


def checked_code(value: str, *, field: str, max_length: int, row: int | None = None) -> str:
    """A code people type, scan and put in a URL: ``CODE_PATTERN``, after trimming spaces."""
    code = value.strip() if isinstance(value, str) else value
    if not isinstance(code, str) or not code:
        raise InvalidInput("is required", field=field, row=row)
    if len(code) > max_length:
        raise InvalidInput(f"is longer than {max_length} characters", field=field, row=row)
    if not _CODE.match(code):
        raise InvalidInput(
            f"{code!r} may only hold letters, digits and . _ -", field=field, row=row
        )
    return code


@dataclass(frozen=True, slots=True)
class NewSku:
    """A SKU to add to the catalogue."""

    code: str
    name: str
    base_unit: str = "each"
    active: bool = True
    lot_tracked: bool = False
    unit_price: Decimal | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def checked(self, row: int | None = None) -> NewSku:
        """This SKU with its fields checked and trimmed."""
        code = checked_code(self.code, field="code", max_length=64, row=row)
        name = (self.name or "").strip()
        if not name:
            raise InvalidInput("is required", field="name", row=row)
        if self.unit_price is not None and self.unit_price < 0:
            raise InvalidInput("must not be negative", field="unit_price", row=row)
        unit = (self.base_unit or "each").strip()
        return NewSku(
            code, name[:200], unit, self.active, self.lot_tracked, self.unit_price, self.attributes
        )


@dataclass(frozen=True, slots=True)
class NewLocation:
    """A site that holds stock (or a virtual one: supplier, customer, in transit)."""

    code: str
    name: str
    kind: str = LocationKind.WAREHOUSE.value
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    allow_negative: bool = False

    def checked(self, row: int | None = None) -> NewLocation:
        """This location with its fields checked."""
        code = checked_code(self.code, field="code", max_length=32, row=row)
        try:
            kind = LocationKind(self.kind).value
        except ValueError:
            kinds = ", ".join(k.value for k in LocationKind)
            raise InvalidInput(
                f"unknown kind {self.kind!r}; use one of: {kinds}", field="kind", row=row
            ) from None
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise InvalidInput("must be between -90 and 90", field="latitude", row=row)
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise InvalidInput("must be between -180 and 180", field="longitude", row=row)
        name = (self.name or "").strip() or code
        return NewLocation(
            code, name, kind, self.address, self.latitude, self.longitude, self.allow_negative
        )


@dataclass(frozen=True, slots=True)
class NewBin:
    """A bin inside a location; ``sequence`` is its place on the walking path."""

    location: str
    code: str
    zone: str | None = None
    sequence: int = 0
    role: str = BinRole.STORAGE.value
    capacity: int | None = None  # units of any SKU it holds; None: no limit

    def checked(self, row: int | None = None) -> NewBin:
        """This bin with its fields checked."""
        code = checked_code(self.code, field="code", max_length=32, row=row)
        sequence = non_negative_quantity(self.sequence, field="sequence", row=row)
        try:
            role = BinRole(self.role).value
        except ValueError:
            choices = ", ".join(r.value for r in BinRole)
            raise InvalidInput(
                f"unknown bin role {self.role!r}; use one of: {choices}", field="role", row=row
            ) from None
        capacity = self.capacity
        if capacity is not None:
            capacity = positive_quantity(capacity, field="capacity", row=row)
        return NewBin(self.location, code, (self.zone or None), sequence, role, capacity)
