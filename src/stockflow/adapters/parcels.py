"""What a carrier is handed and hands back: parcels with their measures, and tracking numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stockflow.errors import InvalidInput

MAX_WEIGHT_G = 1_000_000
"""One tonne: anything heavier is a typo, not a parcel."""

MAX_SIDE_MM = 10_000
"""Ten metres: anything longer is a typo, not a parcel."""

_LIMITS = {
    "weight_g": MAX_WEIGHT_G,
    "length_mm": MAX_SIDE_MM,
    "width_mm": MAX_SIDE_MM,
    "height_mm": MAX_SIDE_MM,
}


def _check_measures(measures: dict[str, object], *, prefix: str) -> None:
    """Refuse a measure that is not a whole number, not positive or beyond belief."""
    for name, limit in _LIMITS.items():
        value = measures[name]
        field = f"{prefix}{name}"
        # bool is an int subclass; True grams is a bug in the caller, not 1 g.
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"must be a whole number, got {value!r}", field=field)
        if value <= 0:
            raise InvalidInput(f"must be above 0, got {value}", field=field)
        if value > limit:
            raise InvalidInput(f"must be at most {limit:,}, got {value:,}", field=field)


@dataclass(frozen=True, slots=True)
class Parcel:
    """One box as weighed (grams) and measured (millimetres) at the packing bench."""

    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int

    def __post_init__(self) -> None:
        _check_measures(self._measures(), prefix="")

    @classmethod
    def checked(
        cls, *, weight_g: int, length_mm: int, width_mm: int, height_mm: int, field: str = ""
    ) -> Parcel:
        """A parcel, or ``InvalidInput`` naming the measure at fault (``parcels[2].weight_g``).

        ``field`` is the parcel's own name in the caller's input, put before the measure's.
        """
        measures: dict[str, object] = {
            "weight_g": weight_g,
            "length_mm": length_mm,
            "width_mm": width_mm,
            "height_mm": height_mm,
        }
        _check_measures(measures, prefix=f"{field}." if field else "")
        return cls(weight_g, length_mm, width_mm, height_mm)

    def _measures(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _LIMITS}

    def billable_weight_g(self, divisor: int = 5000) -> int:
        """The larger of the actual and the volumetric weight, in whole grams (rounded up).

        Volumetric kilograms are length x width x height in centimetres over
        ``divisor``; in millimetres and grams that is the same number over ``divisor``.
        """
        if divisor <= 0:
            raise InvalidInput(f"must be above 0, got {divisor}", field="divisor")
        volume_mm3 = self.length_mm * self.width_mm * self.height_mm
        volumetric_g = -(-volume_mm3 // divisor)  # carriers round up, never down
        return max(self.weight_g, volumetric_g)


_TRACKING = re.compile(r"([A-Z]{1,4})([0-9]{10})([0-9])")  # [0-9]: \d takes any script's digits
SERIAL_DIGITS = 10


def luhn_check_digit(digits: str) -> int:
    """The mod-10 (Luhn) check digit to append to ``digits``."""
    total = 0
    # Counting from the right of the payload, every first digit is doubled, because
    # the check digit will take the rightmost place.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def tracking_number(prefix: str, serial: int) -> str:
    """``prefix``, ``serial`` zero-padded to 10 digits and a Luhn check digit: ``SF00000012344``."""
    if not re.fullmatch(r"[A-Z]{1,4}", prefix):
        raise InvalidInput(f"must be 1 to 4 capital letters, got {prefix!r}", field="prefix")
    if (
        not isinstance(serial, int)
        or isinstance(serial, bool)
        or not 0 <= serial < 10**SERIAL_DIGITS
    ):
        raise InvalidInput(
            f"must be a whole number from 0 to {10**SERIAL_DIGITS - 1}, got {serial!r}",
            field="serial",
        )
    digits = f"{serial:0{SERIAL_DIGITS}d}"
    return f"{prefix}{digits}{luhn_check_digit(digits)}"


def valid_tracking_number(text: str) -> bool:
    """Whether ``text`` is shaped like ``tracking_number`` makes it and its check digit holds."""
    found = _TRACKING.fullmatch(text)
    return found is not None and luhn_check_digit(found.group(2)) == int(found.group(3))
