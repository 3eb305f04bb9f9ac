"""Quantities are integers in the SKU's base unit (I6); this module guards them."""

from __future__ import annotations

from stockflow.errors import InvalidInput

MAX_QUANTITY = 1_000_000_000
"""Largest quantity one request may carry; keeps sums far from 64-bit limits."""


def positive_quantity(value: object, *, field: str = "qty", row: int | None = None) -> int:
    """Return ``value`` as a positive integer quantity, or raise ``InvalidInput``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"must be a whole number, got {value!r}", field=field, row=row)
    if value <= 0:
        raise InvalidInput(f"must be greater than 0, got {value}", field=field, row=row)
    if value > MAX_QUANTITY:
        raise InvalidInput(f"must be at most {MAX_QUANTITY:,}, got {value:,}", field=field, row=row)
    return value


def non_negative_quantity(value: object, *, field: str = "qty", row: int | None = None) -> int:
    """Return ``value`` as a quantity that may be zero, or raise ``InvalidInput``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"must be a whole number, got {value!r}", field=field, row=row)
    if value < 0:
        raise InvalidInput(f"must not be negative, got {value}", field=field, row=row)
    if value > MAX_QUANTITY:
        raise InvalidInput(f"must be at most {MAX_QUANTITY:,}, got {value:,}", field=field, row=row)
    return value
