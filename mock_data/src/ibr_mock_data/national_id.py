"""Synthetic national ID numbers: twelve digits, the last a Verhoeff check digit.

Verhoeff (rather than Luhn) because it catches every single-digit error *and* every swap of two
adjacent digits, the two most common keying mistakes; Luhn misses the 09 <-> 90 swap. India's
Aadhaar uses the same scheme and length.

Each seed of a country owns its own range of serials, so populations generated with different
seeds can be loaded into one IBR without two people sharing an ID.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ibr_protocol.check_digits import verhoeff_check_digit, verhoeff_valid

__all__ = [
    "ID_LENGTH",
    "MAX_PEOPLE_PER_SEED",
    "MAX_SEED",
    "InvalidNationalIdError",
    "identifier_types_file",
    "is_valid_national_id",
    "national_id_for",
    "national_id_for_index",
    "validate_national_id",
    "verhoeff_check_digit",
]

ID_LENGTH = 12


# A serial is the eleven digits before the check digit. Person `index` of seed `seed` has the
# serial index `seed * MAX_PEOPLE_PER_SEED + index`; an affine bijection spreads serial indexes
# over 10000000000..99999999999, so IDs look random, never collide within a country (whatever the
# seeds) and do not reveal generation order. The offset differs per country so that two countries'
# populations do not start from the same IDs (uniqueness is only promised within a country).
MAX_PEOPLE_PER_SEED = 100_000_000  # GeneratorConfig.people's limit
_SERIAL_BASE = 10_000_000_000
_SERIAL_SPAN = 90_000_000_000
MAX_SEED = _SERIAL_SPAN // MAX_PEOPLE_PER_SEED - 1  # 899
_SERIAL_MULTIPLIER = 48_271_862_953  # coprime with 90000000000 = 2^10 * 3^2 * 5^10
_COUNTRY_OFFSETS = {"KE": 12_345_678_901, "BR": 35_791_357_913, "ID": 57_913_579_135,
                    "PH": 79_135_791_357}  # fmt: skip


class InvalidNationalIdError(ValueError):
    """A national ID that is not twelve digits or whose Verhoeff check digit does not match."""


def validate_national_id(value: str) -> None:
    """Raise `InvalidNationalIdError` naming the rule when `value` is not a valid national ID."""
    if len(value) != ID_LENGTH or not value.isascii() or not value.isdigit():
        raise InvalidNationalIdError(
            f"national ID {value!r}: must be exactly {ID_LENGTH} ASCII digits"
        )
    if value[0] == "0":
        raise InvalidNationalIdError(f"national ID {value!r}: must not start with 0")
    if not verhoeff_valid(value):
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


def national_id_for(country: str, seed: int, index: int) -> str:
    """The national ID of person `index` of the population of `country` generated with `seed`."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed}: must be 0..{MAX_SEED} (each seed owns a range of IDs)")
    if not 0 <= index < MAX_PEOPLE_PER_SEED:
        raise ValueError(f"person index {index} outside 0..{MAX_PEOPLE_PER_SEED - 1}")
    if country not in _COUNTRY_OFFSETS:
        raise ValueError(f"country {country!r}: valid countries are {', '.join(_COUNTRY_OFFSETS)}")
    serial_index = seed * MAX_PEOPLE_PER_SEED + index
    scrambled = (serial_index * _SERIAL_MULTIPLIER + _COUNTRY_OFFSETS[country]) % _SERIAL_SPAN
    serial = str(_SERIAL_BASE + scrambled)
    return serial + verhoeff_check_digit(serial)


def national_id_for_index(index: int, *, seed: int = 0, country: str = "KE") -> str:
    """The national ID of person `index` (seed 0 of Kenya unless told); see `national_id_for`."""
    return national_id_for(country, seed, index)


def identifier_types_file() -> Path:
    """The IBR identifier types of the mock countries (for ``IBR_IDENTIFIER_TYPES_FILE``): their
    national IDs checked by Verhoeff, so that an IBR counts the planted keying errors."""
    return Path(str(resources.files("ibr_mock_data") / "identifier-types.yaml"))
