"""Carriers without a network: parcels, billable weight, rates by band and zone,
tracking numbers with their check digit, and the tracking lifecycle.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from stockflow.adapters.carriers import (
    DEFAULT_RATES,
    Booking,
    Carrier,
    FlatRateCarrier,
    ManualCarrier,
    Quote,
    ShipmentRequest,
    carrier_for,
    carriers_by_code,
    zone_for,
)
from stockflow.adapters.parcels import (
    MAX_WEIGHT_G,
    Parcel,
    luhn_check_digit,
    tracking_number,
    valid_tracking_number,
)
from stockflow.errors import Conflict, InvalidInput
from stockflow.floor.rules import TRACKING_TRANSITIONS, IllegalShipmentStep, next_tracking_status
from stockflow.stock.rules.order_lifecycle import ShipmentStatus

S = ShipmentStatus


def small(weight_g: int) -> Parcel:
    """A shoebox (30 x 20 x 10 cm = 1.2 kg volumetric) weighing ``weight_g``."""
    return Parcel(weight_g, 300, 200, 100)


def request(*parcels: Parcel, service: str = "standard", zone: str = "1") -> ShipmentRequest:
    return ShipmentRequest(service=service, parcels=parcels, zone=zone)


# --- parcels -------------------------------------------------------------------------------


def test_billable_weight_is_the_actual_weight_when_the_box_is_dense() -> None:
    assert small(4_000).billable_weight_g() == 4_000


def test_billable_weight_is_volumetric_when_the_box_is_light_and_big() -> None:
    pillow = Parcel(weight_g=500, length_mm=600, width_mm=400, height_mm=400)
    # 60 x 40 x 40 cm = 96,000 cm3 / 5000 = 19.2 kg
    assert pillow.billable_weight_g() == 19_200
    assert pillow.billable_weight_g(divisor=6000) == 16_000


def test_volumetric_weight_rounds_up_to_the_next_gram() -> None:
    assert Parcel(1, 101, 101, 101).billable_weight_g() == 207  # 1030301 / 5000 = 206.06


@pytest.mark.parametrize(
    ("measures", "field"),
    [
        ({"weight_g": 0}, "parcels[2].weight_g"),
        ({"weight_g": -5}, "parcels[2].weight_g"),
        ({"weight_g": MAX_WEIGHT_G + 1}, "parcels[2].weight_g"),
        ({"length_mm": 0}, "parcels[2].length_mm"),
        ({"width_mm": 10_001}, "parcels[2].width_mm"),
        ({"height_mm": -1}, "parcels[2].height_mm"),
        ({"weight_g": True}, "parcels[2].weight_g"),
        ({"weight_g": 1.5}, "parcels[2].weight_g"),
    ],
)
def test_a_bad_parcel_is_refused_naming_the_measure(
    measures: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {
        "weight_g": 900,
        "length_mm": 300,
        "width_mm": 200,
        "height_mm": 100,
    }
    given.update(measures)
    with pytest.raises(InvalidInput) as caught:
        Parcel.checked(**given, field="parcels[2]")  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_parcel_cannot_be_built_bad_even_without_checked() -> None:
    with pytest.raises(InvalidInput) as caught:
        Parcel(100, 300, 0, 100)
    assert caught.value.field == "width_mm"


def test_checked_builds_the_same_parcel_as_the_constructor() -> None:
    made = Parcel.checked(weight_g=900, length_mm=300, width_mm=200, height_mm=100)
    assert made == Parcel(900, 300, 200, 100)


# --- tracking numbers ----------------------------------------------------------------------


def test_luhn_check_digit_matches_the_textbook_example() -> None:
    assert luhn_check_digit("7992739871") == 3


def test_tracking_number_is_prefix_padded_serial_and_check_digit() -> None:
    number = tracking_number("SF", 1234)
    assert number == "SF00000012344"
    assert valid_tracking_number(number)


@pytest.mark.parametrize("serial", [0, 1, 42, 99_999, 1_234_567_890, 9_999_999_999])
def test_every_tracking_number_made_is_valid(serial: int) -> None:
    assert valid_tracking_number(tracking_number("SF", serial))


def test_a_mistyped_digit_or_swapped_pair_is_caught() -> None:
    number = tracking_number("SF", 1234)  # SF00000012344
    assert not valid_tracking_number("SF00000012354")  # one digit wrong
    assert not valid_tracking_number("SF00000021344")  # two neighbours swapped
    assert not valid_tracking_number(number[:-1])
    assert not valid_tracking_number(number.lower())
    arabic_indic = "".join(chr(0x660 + int(d)) for d in number[2:])
    assert not valid_tracking_number("SF" + arabic_indic)  # digits of another script


@pytest.mark.parametrize(
    ("prefix", "serial", "field"),
    [
        ("sf", 1, "prefix"),
        ("", 1, "prefix"),
        ("SF1", 1, "prefix"),
        ("SF", -1, "serial"),
        ("SF", 10**10, "serial"),
    ],
)
def test_bad_tracking_parts_are_refused(prefix: str, serial: int, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tracking_number(prefix, serial)
    assert caught.value.field == field


# --- the tracking lifecycle ----------------------------------------------------------------


def test_a_parcel_goes_from_the_bench_to_the_door() -> None:
    status = S.PACKING
    for scan in ("shipped", "in_transit", "in_transit", "out_for_delivery", "delivered"):
        status = next_tracking_status(status, scan)
    assert status is S.DELIVERED


def test_an_exception_ends_in_delivery_or_return() -> None:
    assert next_tracking_status("exception", "returned") is S.RETURNED
    assert next_tracking_status("exception", "delivered") is S.DELIVERED
    assert next_tracking_status("exception", "exception") is S.EXCEPTION


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("packing", "delivered"),
        ("packing", "in_transit"),
        ("delivered", "in_transit"),
        ("returned", "shipped"),
        ("out_for_delivery", "in_transit"),
        ("shipped", "returned"),
        ("shipped", "shipped"),
    ],
)
def test_an_illegal_step_is_a_named_conflict_on_status(current: str, new: str) -> None:
    with pytest.raises(IllegalShipmentStep) as caught:
        next_tracking_status(current, new)
    assert isinstance(caught.value, Conflict)
    assert caught.value.field == "status"
    assert current.replace("_", " ") in caught.value.detail
    assert new in caught.value.detail


def test_final_statuses_say_so() -> None:
    with pytest.raises(IllegalShipmentStep, match="final"):
        next_tracking_status("delivered", "returned")


def test_an_unknown_status_lists_the_choices() -> None:
    with pytest.raises(InvalidInput) as caught:
        next_tracking_status("shipped", "lost_in_space")
    assert caught.value.field == "status"
    assert "out_for_delivery" in caught.value.detail


def test_the_table_only_names_real_statuses_and_every_status_is_reachable() -> None:
    reachable = {new for (_, new) in TRACKING_TRANSITIONS}
    assert reachable == set(S) - {S.PACKING}
    assert all(TRACKING_TRANSITIONS[key] is key[1] for key in TRACKING_TRANSITIONS)


# --- zones and the flat-rate carrier -------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "zone"),
    [(0, "1"), (100, "1"), (100.1, "2"), (500, "2"), (501, "3"), (9000, "3"), (None, "3")],
)
def test_zone_by_distance(distance: float | None, zone: str) -> None:
    assert zone_for(distance) == zone


def test_a_negative_distance_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        zone_for(-1)
    assert caught.value.field == "distance_km"


@pytest.mark.parametrize(
    ("weight_g", "zone", "service", "price"),
    [
        (800, "1", "standard", "4.90"),
        (1_000, "1", "standard", "4.90"),  # band limits are inclusive
        (1_001, "1", "standard", "6.90"),
        (5_000, "1", "standard", "6.90"),
        (5_001, "1", "standard", "9.90"),
        (31_500, "1", "standard", "19.90"),
        (2_000, "2", "standard", "8.40"),
        (2_000, "3", "standard", "10.90"),
        (2_000, "3", "express", "17.90"),
    ],
)
def test_flat_rate_by_band_and_zone(weight_g: int, zone: str, service: str, price: str) -> None:
    dense = Parcel(weight_g, 100, 100, 100)  # 200 g volumetric: the scale decides
    quote = FlatRateCarrier().quote(request(dense, service=service, zone=zone))
    assert quote == Quote("flat", service, Decimal(price), "EUR")
    assert isinstance(quote.amount, Decimal)


def test_a_small_light_box_pays_for_its_volume() -> None:
    # 900 g in a 1.2 kg volumetric shoebox: the 5 kg band, not the 1 kg one.
    assert FlatRateCarrier().quote(request(small(900))).amount == Decimal("6.90")


def test_a_light_bulky_parcel_is_priced_on_its_volume() -> None:
    pillow = Parcel(weight_g=500, length_mm=600, width_mm=400, height_mm=400)  # 19.2 kg billable
    assert FlatRateCarrier().quote(request(pillow)).amount == Decimal("14.90")


def test_each_parcel_is_priced_and_the_prices_add_up_exactly() -> None:
    parcels = [small(900)] * 3 + [small(12_000)]  # 3 x 6.90 (1.2 kg volumetric) + 14.90
    quote = FlatRateCarrier().quote(request(*parcels))
    assert quote.amount == Decimal("35.60")
    assert str(quote.amount) == "35.60"


def test_a_parcel_over_the_heaviest_band_names_its_index() -> None:
    with pytest.raises(InvalidInput) as caught:
        FlatRateCarrier().quote(request(small(1_000), small(40_000)))
    assert caught.value.field == "parcels[1]"
    assert "parcel 2" in caught.value.detail


@pytest.mark.parametrize(
    ("change", "field"),
    [({"service": "overnight"}, "service"), ({"zone": "9"}, "zone"), ({"parcels": ()}, "parcels")],
)
def test_a_request_the_carrier_cannot_price_names_the_field(
    change: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {"service": "standard", "parcels": (small(900),), "zone": "1"}
    given.update(change)
    with pytest.raises(InvalidInput) as caught:
        FlatRateCarrier().quote(ShipmentRequest(**given))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_custom_rate_table_replaces_the_default() -> None:
    carrier = FlatRateCarrier({"pallet": {"NL": [(500_000, Decimal("95.00"))]}}, code="freight")
    assert carrier.services() == ("pallet",)
    heavy = Parcel(300_000, 1200, 800, 1000)
    assert carrier.quote(request(heavy, service="pallet", zone="NL")).amount == Decimal("95.00")


@pytest.mark.parametrize(
    "bands",
    [
        [(1_000, 4.9)],  # float money
        [(5_000, Decimal("1")), (1_000, Decimal("2"))],  # bands out of order
        [(1_000, Decimal("-1"))],
        [],
    ],
)
def test_a_bad_rate_table_is_refused_when_the_carrier_is_made(bands: list[object]) -> None:
    with pytest.raises(InvalidInput) as caught:
        FlatRateCarrier({"standard": {"1": bands}})  # type: ignore[dict-item]
    assert caught.value.field == "rates.standard.1"


def test_default_rates_are_all_decimal() -> None:
    prices = [
        price for zones in DEFAULT_RATES.values() for bands in zones.values() for _, price in bands
    ]
    assert prices
    assert all(isinstance(price, Decimal) for price in prices)


def test_booking_a_flat_rate_shipment_gives_a_valid_number_from_the_serial() -> None:
    booking = FlatRateCarrier().book(request(small(900), zone="2"), serial=321)
    assert booking == Booking("flat", "standard", "SF00000003210", Decimal("8.40"), "EUR")
    assert valid_tracking_number(booking.tracking_no)
    other = FlatRateCarrier().book(request(small(900), zone="2"), serial=322)
    assert other.tracking_no != booking.tracking_no


# --- the manual carrier and the registry --------------------------------------------------


def test_a_hand_booking_keeps_the_typed_number_and_price() -> None:
    booking = ManualCarrier().book(
        request(small(900), service="express"),
        serial=7,
        tracking_no="  1Z999AA10123456784 ",
        amount=Decimal("12.50"),
    )
    assert booking == Booking("manual", "express", "1Z999AA10123456784", Decimal("12.50"))


def test_a_hand_booking_without_a_number_gets_an_in_house_one() -> None:
    booking = ManualCarrier().book(request(small(900)), serial=7)
    assert booking.tracking_no == tracking_number("MN", 7)
    assert booking.amount == Decimal("0.00")
    assert ManualCarrier().quote(request(small(900))).amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("tracking_no", "amount", "field"),
    [
        ("   ", None, "tracking_no"),
        ("ÄÖ123", None, "tracking_no"),
        ("X" * 41, None, "tracking_no"),
        ("ABC", Decimal("-1"), "amount"),
        ("ABC", Decimal("1.005"), "amount"),
        ("ABC", Decimal("NaN"), "amount"),
    ],
)
def test_a_bad_hand_booking_names_the_field(
    tracking_no: str, amount: Decimal | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        ManualCarrier().book(request(small(900)), serial=1, tracking_no=tracking_no, amount=amount)
    assert caught.value.field == field


def test_the_registry_hands_out_fresh_carriers_by_code() -> None:
    first, second = carriers_by_code(), carriers_by_code()
    assert set(first) == {"flat", "manual"}
    assert all(carrier.code == code for code, carrier in first.items())
    assert first["flat"] is not second["flat"]
    carrier: Carrier = carrier_for("manual")
    assert isinstance(carrier, ManualCarrier)


def test_an_unknown_carrier_code_names_the_field_carrier() -> None:
    with pytest.raises(InvalidInput) as caught:
        carrier_for("pigeon")
    assert caught.value.field == "carrier"
    assert "flat" in caught.value.detail
