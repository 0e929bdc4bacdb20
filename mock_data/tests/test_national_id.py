"""The national ID check digit catches keying errors, so invalid IDs are detectable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibr_mock_data import (
    COUNTRIES,
    MAX_SEED,
    InvalidNationalIdError,
    is_valid_national_id,
    national_id_for,
    national_id_for_index,
    small_population,
    validate_national_id,
)
from ibr_mock_data.national_id import MAX_PEOPLE_PER_SEED

indexes = st.integers(min_value=0, max_value=MAX_PEOPLE_PER_SEED - 1)
seeds = st.integers(min_value=0, max_value=MAX_SEED)


@given(indexes)
def test_generated_ids_are_valid(index: int) -> None:
    """Every generated ID passes the validator; else real people would look like typos."""
    validate_national_id(national_id_for_index(index))


@given(indexes, st.integers(min_value=0, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_rejected(index: int, position: int, delta: int) -> None:
    """A mistyped digit always fails the check; else planted id_typo duplicates could pass."""
    value = national_id_for_index(index)
    wrong = value[:position] + str((int(value[position]) + delta) % 10) + value[position + 1 :]
    with pytest.raises(InvalidNationalIdError):
        validate_national_id(wrong)


@given(indexes, st.integers(min_value=0, max_value=10))
def test_any_adjacent_transposition_is_rejected(index: int, position: int) -> None:
    """Swapped neighbours fail the check (the reason Verhoeff was chosen over Luhn)."""
    value = national_id_for_index(index)
    if value[position] == value[position + 1]:
        return
    swapped = value[:position] + value[position + 1] + value[position] + value[position + 2 :]
    assert not is_valid_national_id(swapped)


@given(seeds, indexes, seeds, indexes, st.sampled_from(sorted(COUNTRIES)))
def test_ids_never_collide_across_seeds_of_a_country(
    seed_a: int, index_a: int, seed_b: int, index_b: int, country: str
) -> None:
    """Two different people (seed, index) of one country never share an ID, whatever the seeds;
    else loading two seeds into one IBR would merge strangers."""
    a = national_id_for(country, seed_a, index_a)
    b = national_id_for(country, seed_b, index_b)
    assert (a == b) == ((seed_a, index_a) == (seed_b, index_b))
    validate_national_id(a)


def test_populations_of_several_seeds_share_no_id() -> None:
    """Five seeds of one country, generated for real: every NID and BRN is used by one person
    only, and every NID passes its check digit (today's collision was across seeds)."""
    owners: dict[str, tuple[int, str]] = {}
    for seed in range(5):
        pop = small_population(seed=seed, people=800, country="ID")
        for household in pop.households:
            for person in household.members:
                for value in (person.national_id, person.birth_registration):
                    if value is None:
                        continue
                    assert owners.setdefault(value, (seed, person.person_id)) == (
                        seed,
                        person.person_id,
                    ), f"{value} reused"
                if person.national_id is not None:
                    validate_national_id(person.national_id)
    assert len(owners) > 3000


def test_seed_outside_the_id_space_is_refused() -> None:
    """A seed with no ID range of its own is an error naming the range, not a silent reuse."""
    with pytest.raises(ValueError, match=rf"seed {MAX_SEED + 1}: must be 0\.\.{MAX_SEED}"):
        national_id_for("KE", MAX_SEED + 1, 0)


def test_ids_are_unique_and_not_sequential() -> None:
    """Consecutive people get unrelated IDs; a collision would merge two people."""
    ids = [national_id_for_index(i) for i in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) != ids


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("12345678901", "exactly 12 ASCII digits"),
        ("1234567890123", "exactly 12 ASCII digits"),
        ("12345A789012", "exactly 12 ASCII digits"),
        ("１２３４５６７８９０１２", "exactly 12 ASCII digits"),
        ("023456789012", "must not start with 0"),
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
