"""Planted-truth accounting: what the truth file says is in the data, and nothing more."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from ibr_mock_data import (
    CROSS_PROGRAMME_OVERLAP,
    DUPLICATE_IN_PROGRAMME,
    FUZZY_DUPLICATE,
    KINDS,
    SmallPopulation,
    is_valid_national_id,
)


def _index(population: SmallPopulation) -> dict[str, dict[str, Any]]:
    return {
        r["programme_identifier"][0]["beneficiary_programme_id"]: r
        for r in population.beneficiaries
    }


def _programme(record: dict[str, Any]) -> str:
    return str(record["programme_identifier"][0]["programme"]["programme_identifier"])


def _shared_id(record: dict[str, Any]) -> str | None:
    """The identifier records are matched on: household ID, else NID, else BRN."""
    if record["assistance_unit"] != "1":
        return str(record["group"]["group_identifier"][0]["identifier_value"])
    ids = {
        i["identifier_type"]: i["identifier_value"]
        for i in record["member"].get("member_identifier", [])
    }
    return ids.get("NID") or ids.get("BRN")


def _incompatible(population: SmallPopulation) -> set[frozenset[str]]:
    return {
        frozenset((p.code, other))
        for p in population.config.programmes
        for other in p.incompatible_with
    }


def test_every_kind_is_planted(population: SmallPopulation) -> None:
    """With non-zero rates each kind of case appears; else detection cannot be scored on it."""
    kinds = {case["kind"] for case in population.truth}
    assert kinds == set(KINDS)


def test_truth_records_exist(population: SmallPopulation) -> None:
    """Every record a case names is in the data, in the programme the case says."""
    records = _index(population)
    for case in population.truth:
        assert (
            len(case["records"]) == len(case["programmes"])
            or case["kind"] != CROSS_PROGRAMME_OVERLAP
        )
        for record_id in case["records"]:
            assert record_id in records, f"{case['case_id']}: {record_id} missing"
        assert {_programme(records[r]) for r in case["records"]} == set(case["programmes"])


def test_exact_duplicates_are_exactly_the_planted_ones(population: SmallPopulation) -> None:
    """Records sharing an ID inside a programme are precisely the planted duplicate pairs, so a
    detector's precision and recall computed from the truth file are right."""
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record_id, record in _index(population).items():
        shared = _shared_id(record)
        if shared is not None:
            by_key[(_programme(record), shared)].append(record_id)
    found = {frozenset(pair) for ids in by_key.values() for pair in combinations(ids, 2)}
    planted = {
        frozenset(c["records"]) for c in population.truth if c["kind"] == DUPLICATE_IN_PROGRAMME
    }
    assert found == planted


def test_incompatible_overlaps_are_exactly_the_planted_ones(population: SmallPopulation) -> None:
    """Every pair of records with one ID in two programmes that must not combine is a planted
    case, and every planted case is such a pair: the eligibility rules respect incompatibility."""
    blocked = _incompatible(population)
    by_id: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record_id, record in _index(population).items():
        shared = _shared_id(record)
        if shared is not None:
            by_id[shared].append((_programme(record), record_id))
    found = {
        frozenset((a[1], b[1]))
        for held in by_id.values()
        for a, b in combinations(held, 2)
        if frozenset((a[0], b[0])) in blocked
    }
    planted = {
        frozenset((other, c["records"][-1]))
        for c in population.truth
        if c["kind"] == CROSS_PROGRAMME_OVERLAP
        for other in c["records"][:-1]
    }
    assert found == planted
    assert planted


def test_fuzzy_duplicates_share_no_valid_id_and_show_their_perturbations(
    population: SmallPopulation,
) -> None:
    """A fuzzy duplicate has no usable shared ID (missing, or failing the check digit) and
    differs from the original exactly where the truth file says; else it is mislabelled."""
    records = _index(population)
    cases = [c for c in population.truth if c["kind"] == FUZZY_DUPLICATE]
    assert cases
    for case in cases:
        original, duplicate = (records[r]["member"] for r in case["records"])
        perturbations = set(case["perturbations"])
        ids = {
            i["identifier_type"]: i["identifier_value"]
            for i in duplicate.get("member_identifier", [])
        }
        if "missing_id" in perturbations:
            assert not ids
        else:
            assert "id_typo" in perturbations
            assert not is_valid_national_id(ids["NID"])
        a, b = original["demographic_info"], duplicate["demographic_info"]
        assert (a["birth_date"] != b["birth_date"]) == ("date_format_error" in perturbations)
        names_changed = (a["name"]["given_name"], a["name"]["surname"]) != (
            b["name"]["given_name"],
            b["name"]["surname"],
        )
        name_kinds = {"typo", "transliteration", "swapped_name_order"}
        assert names_changed == bool(perturbations & name_kinds)
        if perturbations & name_kinds == {"swapped_name_order"}:
            assert (b["name"]["given_name"], b["name"]["surname"]) == (
                a["name"]["surname"],
                a["name"]["given_name"],
            )


def test_truth_case_counts_follow_the_rates(population: SmallPopulation) -> None:
    """Rates are honoured to within sampling error; a rate ignored would skew benchmarks."""
    natural = len(population.beneficiaries) - len(population.truth)
    fuzzy = sum(c["kind"] == FUZZY_DUPLICATE for c in population.truth)
    rate = population.config.truth.fuzzy_duplicate
    member_share = 0.5  # only member-level records can get a fuzzy duplicate
    assert 0.3 * rate * natural * member_share < fuzzy < 1.5 * rate * natural
