"""Synthetic national ID numbers: ten digits, the last a Verhoeff check digit.

Verhoeff (rather than Luhn) because it catches every single-digit error *and* every swap of two
adjacent digits, the two most common keying mistakes; Luhn misses the 09 <-> 90 swap. India's
Aadhaar uses the same scheme.
"""

from __future__ import annotations

__all__ = [
    "ID_LENGTH",
    "InvalidNationalIdError",
    "is_valid_national_id",
    "national_id_for_index",
    "validate_national_id",
    "verhoeff_check_digit",
]

ID_LENGTH = 10

_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)

# Serial numbers are spread over 100000000..999999999 by an affine bijection, so that IDs look
# random, never collide, and do not reveal the order in which people were generated.
_SERIAL_BASE = 100_000_000
_SERIAL_SPAN = 900_000_000
_SERIAL_MULTIPLIER = 982_451_653  # prime, hence coprime with 900000000 = 2^8 * 3^2 * 5^8
_SERIAL_OFFSET = 123_456_789


class InvalidNationalIdError(ValueError):
    """A national ID that is not ten digits or whose Verhoeff check digit does not match."""


def verhoeff_check_digit(digits: str) -> str:
    """Return the Verhoeff check digit to append to `digits` (a string of decimal digits)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[(i + 1) % 8][ord(ch) - 48]]
    return str(_INV[c])


def _checksum(number: str) -> int:
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _D[c][_P[i % 8][ord(ch) - 48]]
    return c


def validate_national_id(value: str) -> None:
    """Raise `InvalidNationalIdError` naming the rule when `value` is not a valid national ID."""
    if len(value) != ID_LENGTH or not value.isascii() or not value.isdigit():
        raise InvalidNationalIdError(
            f"national ID {value!r}: must be exactly {ID_LENGTH} ASCII digits"
        )
    if value[0] == "0":
        raise InvalidNationalIdError(f"national ID {value!r}: must not start with 0")
    if _checksum(value) != 0:
        raise InvalidNationalIdError(
            f"national ID {value!r}: Verhoeff check digit does not match (keying error?)"
        )


def is_valid_national_id(value: str) -> bool:
    """Convenience predicate over `validate_national_id`."""
    try:
        validate_national_id(value)
    except InvalidNationalIdError:
        return False
    return True


def national_id_for_index(index: int) -> str:
    """The national ID of the person with global index `index` (0 <= index < 900000000)."""
    if not 0 <= index < _SERIAL_SPAN:
        raise ValueError(f"person index {index} outside 0..{_SERIAL_SPAN - 1}")
    serial = str(_SERIAL_BASE + (index * _SERIAL_MULTIPLIER + _SERIAL_OFFSET) % _SERIAL_SPAN)
    return serial + verhoeff_check_digit(serial)
