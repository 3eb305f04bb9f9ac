"""What goes on each printed document, gathered by the caller before rendering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """A name and the address lines under it, as printed."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PickLineDoc:
    """One stop on the picker's walk: take ``qty`` of ``sku`` from ``bin`` into ``tote``."""

    sequence: int
    bin: str
    sku: str
    sku_name: str
    lot: str | None
    qty: int
    order_id: str
    tote: str


@dataclass(frozen=True, slots=True)
class PickListDoc:
    """A wave's pick list; lines are printed in walking order (by ``sequence``)."""

    wave_id: str
    location: str
    created_at: datetime
    lines: tuple[PickLineDoc, ...]


@dataclass(frozen=True, slots=True)
class SlipLineDoc:
    """One SKU on a packing slip: how many were ordered and how many are in this box."""

    sku: str
    name: str
    ordered: int
    shipped: int


@dataclass(frozen=True, slots=True)
class PackingSlipDoc:
    """The slip that goes in the box with a shipment."""

    order_id: str
    shipment_id: str
    ship_from: Address
    ship_to: str | None
    customer: str | None
    lines: tuple[SlipLineDoc, ...]
    packed_at: datetime


@dataclass(frozen=True, slots=True)
class LabelDoc:
    """A 4x6 inch shipping label for one package of a shipment."""

    shipment_id: str
    tracking_no: str
    carrier: str
    service: str
    ship_from: Address
    ship_to: str
    weight_g: int
    package_no: int
    package_count: int
    order_id: str
