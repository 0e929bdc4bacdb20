"""The national ID check digit catches keying errors, so invalid IDs are detectable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibr_mock_data import (
    InvalidNationalIdError,
    is_valid_national_id,
    national_id_for_index,
    validate_national_id,
)

indexes = st.integers(min_value=0, max_value=899_999_999)


@given(indexes)
def test_generated_ids_are_valid(index: int) -> None:
    """Every generated ID passes the validator; else real people would look like typos."""
    validate_national_id(national_id_for_index(index))


@given(indexes, st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_rejected(index: int, position: int, delta: int) -> None:
    """A mistyped digit always fails the check; else planted id_typo duplicates could pass."""
    value = national_id_for_index(index)
    wrong = value[:position] + str((int(value[position]) + delta) % 10) + value[position + 1 :]
    with pytest.raises(InvalidNationalIdError):
        validate_national_id(wrong)


@given(indexes, st.integers(min_value=0, max_value=8))
def test_any_adjacent_transposition_is_rejected(index: int, position: int) -> None:
    """Swapped neighbours fail the check (the reason Verhoeff was chosen over Luhn)."""
    value = national_id_for_index(index)
    if value[position] == value[position + 1]:
        return
    swapped = value[:position] + value[position + 1] + value[position] + value[position + 2 :]
    assert not is_valid_national_id(swapped)


def test_ids_are_unique_and_not_sequential() -> None:
    """Consecutive people get unrelated IDs; a collision would merge two people."""
    ids = [national_id_for_index(i) for i in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) != ids


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("123456789", "exactly 10 ASCII digits"),
        ("12345678901", "exactly 10 ASCII digits"),
        ("12345A7890", "exactly 10 ASCII digits"),
        ("１２３４５６７８９０", "exactly 10 ASCII digits"),
        ("0234567890", "must not start with 0"),
    ],
    ids=["short", "long", "letter", "fullwidth-digits", "leading-zero"],
)
def test_malformed_ids_name_the_rule(value: str, rule: str) -> None:
    """Format errors are reported with the rule broken, not just 'invalid'."""
    with pytest.raises(InvalidNationalIdError, match=rule):
        validate_national_id(value)


def test_known_verhoeff_vector() -> None:
    """The textbook example 236 -> check digit 3 pins the algorithm to standard Verhoeff."""
    from ibr_mock_data.national_id import verhoeff_check_digit

    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_check_digit("12345") == "1"
