"""Check-digit algorithms that identifier types declare (the IBR's identifier type registry).

Verhoeff catches every single-digit error and every swap of two adjacent digits (Luhn misses
09 <-> 90); India's Aadhaar and the mock countries' national IDs use it. Luhn is what most
payment and many civil registration numbers use.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CHECK_DIGITS", "luhn_valid", "verhoeff_check_digit", "verhoeff_valid"]

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


def _verhoeff_checksum(digits: str) -> int:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c


def verhoeff_check_digit(payload: str) -> str:
    """The digit to append to `payload` (digits only)."""
    return str(_INV[_verhoeff_checksum(payload + "0")])


def verhoeff_valid(number: str) -> bool:
    """True when `number` (digits, its last one the check digit) passes Verhoeff."""
    return len(number) > 1 and number.isdigit() and _verhoeff_checksum(number) == 0


def luhn_valid(number: str) -> bool:
    """True when `number` (digits, its last one the check digit) passes Luhn (mod 10)."""
    if len(number) < 2 or not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


CHECK_DIGITS: dict[str, Callable[[str], bool]] = {"verhoeff": verhoeff_valid, "luhn": luhn_valid}
"""Algorithm name (as an identifier type declares it) -> validator."""
