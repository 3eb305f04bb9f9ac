"""Carriers: price a shipment and book it, behind one small protocol.

Two carriers ship with stockflow and need no network: ``flat`` prices from a
rate table by weight band and zone, ``manual`` records a carrier booked by hand
(on the carrier's own website or by phone).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from stockflow.adapters.parcels import Parcel, tracking_number
from stockflow.errors import InvalidInput

CURRENCY = "EUR"
_CENT = Decimal("0.01")
_MAX_TRACKING_LENGTH = 40


@dataclass(frozen=True, slots=True)
class ShipmentRequest:
    """What to ship: the service asked for, the boxes and the destination zone."""

    service: str
    parcels: tuple[Parcel, ...]
    zone: str


@dataclass(frozen=True, slots=True)
class Quote:
    """What a carrier would charge for a request."""

    carrier: str
    service: str
    amount: Decimal
    currency: str = CURRENCY


@dataclass(frozen=True, slots=True)
class Booking:
    """A shipment the carrier accepted: its tracking number and the price agreed."""

    carrier: str
    service: str
    tracking_no: str
    amount: Decimal
    currency: str = CURRENCY


class Carrier(Protocol):
    """A carrier stockflow can quote and book with."""

    code: str

    def services(self) -> tuple[str, ...]:
        """The services this carrier offers, such as ``standard`` and ``express``."""
        ...

    def quote(self, request: ShipmentRequest) -> Quote:
        """The price of ``request``, or ``InvalidInput`` naming what the carrier refuses."""
        ...

    def book(self, request: ShipmentRequest, *, serial: int) -> Booking:
        """Book ``request``; a ``serial`` unique per shipment (its row id) keeps numbers apart."""
        ...


Bands = Sequence[tuple[int, Decimal]]
"""Weight bands: (heaviest billable grams, price per parcel), lightest first."""

RateTable = Mapping[str, Mapping[str, Bands]]
"""Service -> zone -> weight bands."""

_BAND_LIMITS_G = (1_000, 5_000, 10_000, 20_000, 31_500)


def _bands(*prices: str) -> tuple[tuple[int, Decimal], ...]:
    return tuple(zip(_BAND_LIMITS_G, (Decimal(price) for price in prices), strict=True))


DEFAULT_RATES: RateTable = {
    "standard": {
        "1": _bands("4.90", "6.90", "9.90", "14.90", "19.90"),
        "2": _bands("5.90", "8.40", "11.90", "17.90", "23.90"),
        "3": _bands("7.90", "10.90", "14.90", "21.90", "29.90"),
    },
    "express": {
        "1": _bands("8.90", "11.90", "15.90", "22.90", "29.90"),
        "2": _bands("10.90", "14.40", "18.90", "26.90", "35.90"),
        "3": _bands("13.90", "17.90", "23.90", "32.90", "44.90"),
    },
}
"""A parcel-service price list in euros: bands up to 1, 5, 10, 20 and 31.5 kg, zones 1 to 3."""


def _checked_rates(rates: RateTable) -> dict[str, dict[str, tuple[tuple[int, Decimal], ...]]]:
    """A copy of ``rates`` after refusing float money, unsorted bands and empty zones."""
    if not rates:
        raise InvalidInput("the rate table has no service", field="rates")
    table: dict[str, dict[str, tuple[tuple[int, Decimal], ...]]] = {}
    for service, zones in rates.items():
        if not zones:
            raise InvalidInput(f"service {service!r} has no zone", field=f"rates.{service}")
        table[service] = {}
        for zone, bands in zones.items():
            field = f"rates.{service}.{zone}"
            limits = [limit for limit, _ in bands]
            if not bands or limits != sorted(set(limits)) or limits[0] <= 0:
                raise InvalidInput("bands must be above 0 g and strictly rising", field=field)
            for _, price in bands:
                # A float price would carry binary rounding into every invoice.
                if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
                    raise InvalidInput(f"price must be a Decimal >= 0, got {price!r}", field=field)
            table[service][zone] = tuple(bands)
    return table


class FlatRateCarrier:
    """An offline carrier priced per parcel on billable weight from a rate table."""

    def __init__(
        self,
        rates: RateTable = DEFAULT_RATES,
        *,
        code: str = "flat",
        prefix: str = "SF",
        divisor: int = 5000,
    ) -> None:
        tracking_number(prefix, 0)  # refuse a bad prefix now, not at the first booking
        if divisor <= 0:
            raise InvalidInput(f"must be above 0, got {divisor}", field="divisor")
        self.code = code
        self.prefix = prefix
        self.divisor = divisor
        self._rates = _checked_rates(rates)

    def services(self) -> tuple[str, ...]:
        """The services named in the rate table."""
        return tuple(self._rates)

    def quote(self, request: ShipmentRequest) -> Quote:
        """The sum of each parcel's band price for the request's service and zone."""
        zones = self._rates.get(request.service)
        if zones is None:
            raise InvalidInput(_unknown("service", request.service, self._rates), field="service")
        bands = zones.get(request.zone)
        if bands is None:
            raise InvalidInput(_unknown("zone", request.zone, zones), field="zone")
        _require_parcels(request)
        total = sum(
            (
                self._parcel_price(index, parcel, bands)
                for index, parcel in enumerate(request.parcels)
            ),
            start=Decimal("0"),
        )
        return Quote(self.code, request.service, total.quantize(_CENT))

    def book(self, request: ShipmentRequest, *, serial: int) -> Booking:
        """Book at the quoted price under a tracking number made from ``serial``."""
        quote = self.quote(request)
        number = tracking_number(self.prefix, serial)
        return Booking(self.code, request.service, number, quote.amount, quote.currency)

    def _parcel_price(self, index: int, parcel: Parcel, bands: Bands) -> Decimal:
        billable = parcel.billable_weight_g(self.divisor)
        for limit, price in bands:
            if billable <= limit:
                return price
        heaviest = bands[-1][0]
        raise InvalidInput(
            f"parcel {index + 1} weighs {billable:,} g billable, over the heaviest band "
            f"of {heaviest:,} g; split it or use a freight carrier",
            field=f"parcels[{index}]",
        )


class ManualCarrier:
    """A carrier booked by hand: the caller types in the tracking number and the price."""

    def __init__(
        self,
        *,
        code: str = "manual",
        services: tuple[str, ...] = ("standard", "express"),
        prefix: str = "MN",
    ) -> None:
        tracking_number(prefix, 0)  # refuse a bad prefix now, not at the first booking
        self.code = code
        self.prefix = prefix
        self._services = services

    def services(self) -> tuple[str, ...]:
        """The services a person may pick when booking by hand."""
        return self._services

    def quote(self, request: ShipmentRequest) -> Quote:
        """Zero: the real price is known only once someone books it."""
        self._check(request)
        return Quote(self.code, request.service, Decimal("0.00"))

    def book(
        self,
        request: ShipmentRequest,
        *,
        serial: int,
        tracking_no: str | None = None,
        amount: Decimal | None = None,
    ) -> Booking:
        """Record a hand booking; without ``tracking_no`` an in-house number from ``serial``."""
        self._check(request)
        number = _checked_tracking_no(tracking_no) if tracking_no is not None else None
        price = _checked_amount(amount) if amount is not None else Decimal("0.00")
        return Booking(
            self.code, request.service, number or tracking_number(self.prefix, serial), price
        )

    def _check(self, request: ShipmentRequest) -> None:
        if request.service not in self._services:
            raise InvalidInput(
                _unknown("service", request.service, self._services), field="service"
            )
        _require_parcels(request)


def _require_parcels(request: ShipmentRequest) -> None:
    if not request.parcels:
        raise InvalidInput("a shipment needs at least one parcel", field="parcels")


def _unknown(what: str, value: str, choices: Mapping[str, object] | Sequence[str]) -> str:
    return f"unknown {what} {value!r}; choose one of {', '.join(choices)}"


def _checked_tracking_no(text: str) -> str:
    """A hand-typed tracking number, trimmed; it must print and scan as Code 128."""
    number = text.strip()
    if not number:
        raise InvalidInput("must not be blank", field="tracking_no")
    if len(number) > _MAX_TRACKING_LENGTH or not all(" " <= char <= "~" for char in number):
        raise InvalidInput(
            f"must be at most {_MAX_TRACKING_LENGTH} printable ASCII characters, got {text!r}",
            field="tracking_no",
        )
    return number


def _checked_amount(amount: Decimal) -> Decimal:
    """A price in whole cents, never negative."""
    try:
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
            raise InvalidOperation
        cents = amount.quantize(_CENT)
    except InvalidOperation:
        raise InvalidInput(f"must be a Decimal >= 0, got {amount!r}", field="amount") from None
    if cents != amount:
        raise InvalidInput(f"must be in whole cents, got {amount}", field="amount")
    return cents


def zone_for(distance_km: float | None) -> str:
    """The price zone for a distance: up to 100 km "1", up to 500 km "2", else or unknown "3"."""
    if distance_km is None or math.isnan(distance_km):
        return "3"
    if distance_km < 0:
        raise InvalidInput(f"must not be negative, got {distance_km}", field="distance_km")
    if distance_km <= 100:
        return "1"
    if distance_km <= 500:
        return "2"
    return "3"


def carriers_by_code() -> dict[str, Carrier]:
    """Fresh instances of the built-in carriers, by code."""
    return {"flat": FlatRateCarrier(), "manual": ManualCarrier()}


def carrier_for(code: str) -> Carrier:
    """A fresh built-in carrier by code, or ``InvalidInput`` naming the field ``carrier``."""
    carriers = carriers_by_code()
    found = carriers.get(code)
    if found is None:
        raise InvalidInput(_unknown("carrier", code, carriers), field="carrier")
    return found
