"""The registry cases (issue #10): each kind is in the truth file and in the records exactly as
the truth says, so an IBR's handling of it can be checked against the truth file alone."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from ibr_mock_data import (
    ALIASED_IDENTIFIER_TYPE,
    AREA_MOVE,
    BENEFIT_CORRECTION,
    BENEFIT_REVERSAL,
    CONFLICTING_DEMOGRAPHICS,
    COUNTRIES,
    DEATH_REPORTED_ELSEWHERE,
    DUPLICATE_IN_PROGRAMME,
    FORMATTED_IDENTIFIER,
    KINDS,
    SPLIT_IDENTIFIER_ORDER,
    STALE_UPDATE,
    SmallPopulation,
    is_valid_national_id,
    small_population,
)
from ibr_protocol.normalise import normalise_record

JsonDict = dict[str, Any]
ENDED = {"2", "3", "5", "6"}


def _records(population: SmallPopulation) -> dict[str, JsonDict]:
    return {
        r["programme_identifier"][0]["beneficiary_programme_id"]: r
        for r in population.beneficiaries
    }


def _cases(population: SmallPopulation, kind: str) -> list[JsonDict]:
    cases = [c for c in population.truth if c["kind"] == kind]
    assert len(cases) >= 5, f"too few {kind} cases to test"
    return cases


def _updates(population: SmallPopulation) -> dict[str, list[tuple[int, JsonDict]]]:
    """case_id -> [(position in the stream, update)], in stream order."""
    out: dict[str, list[tuple[int, JsonDict]]] = defaultdict(list)
    for position, update in enumerate(population.updates):
        out[update["case_id"]].append((position, update))
    return out


def _ids(record: JsonDict) -> list[tuple[str, str]]:
    return [
        (i["identifier_type"], i["identifier_value"])
        for i in record["member"].get("member_identifier", [])
    ]


def _enrolment(record: JsonDict) -> JsonDict:
    return dict(record["programme_identifier"][0])


def _demographics(record: JsonDict) -> JsonDict:
    return dict(record["member"]["demographic_info"])


@pytest.mark.parametrize("country", sorted(COUNTRIES))
@pytest.mark.parametrize("seed", [0, 1])
def test_500_people_hold_every_kind_with_default_rates(country: str, seed: int) -> None:
    """With the default (small) rates, 500 people already carry a case of every kind; else the
    IBR's end-to-end test would silently skip a kind."""
    population = small_population(seed=seed, people=500, country=country)
    assert {c["kind"] for c in population.truth} == set(KINDS)


def test_a_zero_rate_plants_nothing_of_that_kind() -> None:
    """Turning a kind off really turns it off (the top-up to one case per kind respects it)."""
    population = small_population(seed=2, people=600, truth={STALE_UPDATE: 0.0})
    kinds = {c["kind"] for c in population.truth}
    assert STALE_UPDATE not in kinds
    assert kinds == set(KINDS) - {STALE_UPDATE}


def test_split_identifier_order(registry_population: SmallPopulation) -> None:
    """One person, two programmes, [NID, UIN] in one record and [UIN, NID] in the other."""
    records = _records(registry_population)
    for case in _cases(registry_population, SPLIT_IDENTIFIER_ORDER):
        first, second = (records[r] for r in case["records"])
        nid, uin = case["identifier"], case["uin"]
        assert _ids(first) == [("NID", nid), ("UIN", uin)]
        assert _ids(second) == [("UIN", uin), ("NID", nid)]
        assert case["identifier_orders"] == [["NID", "UIN"], ["UIN", "NID"]]
        assert case["programmes"][0] != case["programmes"][1]
        a, b = _demographics(first), _demographics(second)
        assert (a["name"], a["sex"], a["birth_date"]) == (b["name"], b["sex"], b["birth_date"])


def test_formatted_identifier(registry_population: SmallPopulation) -> None:
    """The second programme sends the same valid NID with spaces and/or hyphens."""
    records = _records(registry_population)
    for case in _cases(registry_population, FORMATTED_IDENTIFIER):
        original, formatted = (records[r] for r in case["records"])
        assert ("NID", case["identifier"]) in _ids(original)
        assert _ids(formatted) == [("NID", case["sent_value"])]
        assert case["sent_value"] != case["identifier"]
        assert re.fullmatch(r"[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}", case["sent_value"])
        assert re.sub(r"[ -]", "", case["sent_value"]) == case["identifier"]
        assert is_valid_national_id(case["identifier"])


def test_aliased_identifier_type(registry_population: SmallPopulation) -> None:
    """The second programme sends the NID under an alias type that a receiver reads as NID."""
    records = _records(registry_population)
    for case in _cases(registry_population, ALIASED_IDENTIFIER_TYPE):
        original, aliased = (records[r] for r in case["records"])
        assert ("NID", case["identifier"]) in _ids(original)
        assert _ids(aliased) == [(case["sent_type"], case["identifier"])]
        assert case["sent_type"] != "NID"
        assert _ids(normalise_record("beneficiary", aliased)) == [("NID", case["identifier"])]


def test_in_programme_duplicate_names_both_records_and_the_person(
    registry_population: SmallPopulation,
) -> None:
    """Two record ids of one person (or household) in one programme, and the true person."""
    records = _records(registry_population)
    people = {m.person_id: (m, h) for h in registry_population.households for m in h.members}
    cases = [c for c in registry_population.truth if c["kind"] == DUPLICATE_IN_PROGRAMME]
    assert cases
    for case in cases:
        first, second = case["records"]
        assert first != second
        programmes = {
            _enrolment(records[r])["programme"]["programme_identifier"] for r in (first, second)
        }
        assert programmes == set(case["programmes"])
        person, household = people[case["person_id"]]
        assert case["identifier"] in (
            person.national_id,
            person.birth_registration,
            household.household_id,
        )


def test_conflicting_demographics(registry_population: SmallPopulation) -> None:
    """One NID, two programmes, a different sex or a birth year 10+ years apart."""
    records = _records(registry_population)
    for case in _cases(registry_population, CONFLICTING_DEMOGRAPHICS):
        true, sent = (_demographics(records[r]) for r in case["records"])
        for record_id in case["records"]:
            assert ("NID", case["identifier"]) in _ids(records[record_id])
        assert (true["sex"], true["birth_date"]) == (case["true_sex"], case["true_birth_date"])
        assert (sent["sex"], sent["birth_date"]) == (case["sent_sex"], case["sent_birth_date"])
        years = int(true["birth_date"][:4]) - int(sent["birth_date"][:4])
        if case["conflict"] == "sex":
            assert sent["sex"] != true["sex"]
            assert sent["birth_date"] == true["birth_date"]
        else:
            assert case["conflict"] == "birth_year"
            assert years >= 10
            assert sent["sex"] == true["sex"]


def test_death_reported_elsewhere(registry_population: SmallPopulation) -> None:
    """Active in programme A; programme B's follow-up reports Deceased with the death date; the
    truth lists exactly the person's records still open elsewhere."""
    records = _records(registry_population)
    updates = _updates(registry_population)
    for case in _cases(registry_population, DEATH_REPORTED_ELSEWHERE):
        active, reporter = case["records"]
        assert case["reported_by"] == reporter
        assert _enrolment(records[active])["enrolment_status"] == "1"
        assert _enrolment(records[reporter])["enrolment_status"] == "1"
        assert "death_date" not in _demographics(records[reporter])
        ((_, update),) = updates[case["case_id"]]
        report = update["beneficiary"]
        assert update["step"] == 1
        assert _enrolment(report)["beneficiary_programme_id"] == reporter
        assert _enrolment(report)["enrolment_status"] == "2"
        assert _enrolment(report)["status_change_date"] == case["death_date"]
        assert _demographics(report)["death_date"] == case["death_date"]
        open_now = sorted(
            record_id
            for record_id, record in records.items()
            if record["assistance_unit"] == "1"
            and ("NID", case["identifier"]) in _ids(record)
            and record_id != reporter
            and _enrolment(record)["enrolment_status"] not in ENDED
        )
        assert case["open_elsewhere"] == open_now
        assert active in open_now


def test_area_move(registry_population: SmallPopulation) -> None:
    """A later message of the same record puts the person in another district."""
    records = _records(registry_population)
    updates = _updates(registry_population)
    for case in _cases(registry_population, AREA_MOVE):
        (record_id,) = case["records"]
        before = records[record_id]
        ((_, update),) = updates[case["case_id"]]
        after = update["beneficiary"]

        def area(record: JsonDict) -> JsonDict:
            address = _demographics(record)["address"][0]
            return {k: address[k] for k in ("region_code", "sub_region_code")}

        assert area(before) == case["from_area"]
        assert area(after) == case["to_area"]
        assert case["to_area"]["sub_region_code"] != case["from_area"]["sub_region_code"]
        assert after["member"]["last_updated"] == f"{case['moved_on']}T09:00:00Z"
        assert after["member"]["last_updated"] > before["member"]["last_updated"]
        assert _enrolment(after)["beneficiary_programme_id"] == record_id
        assert _enrolment(after)["enrolment_status"] == _enrolment(before)["enrolment_status"]


def test_stale_update(registry_population: SmallPopulation) -> None:
    """Exit first, then an Active dated before the exit: the exit must stay the current state."""
    records = _records(registry_population)
    updates = _updates(registry_population)
    for case in _cases(registry_population, STALE_UPDATE):
        (record_id,) = case["records"]
        base = _enrolment(records[record_id])
        (first_at, first), (second_at, second) = updates[case["case_id"]]
        assert first_at < second_at
        assert (first["step"], second["step"]) == (1, 2)
        exit_, stale = _enrolment(first["beneficiary"]), _enrolment(second["beneficiary"])
        assert exit_["beneficiary_programme_id"] == stale["beneficiary_programme_id"] == record_id
        assert (exit_["enrolment_status"], exit_["status_change_date"]) == ("5", case["exit_date"])
        assert (stale["enrolment_status"], stale["status_change_date"]) == ("1", case["stale_date"])
        assert base["enrolment_status"] == "1"
        assert base["status_change_date"] < case["stale_date"] < case["exit_date"]
        assert case["final_status"] == "5"


def _benefit(enrolment: JsonDict, case: JsonDict) -> JsonDict:
    (found,) = [
        b
        for b in enrolment.get("benefits", [])
        if (b["period_start"], b["period_end"]) == (case["period_start"], case["period_end"])
    ]
    return dict(found)


def test_benefit_correction(registry_population: SmallPopulation) -> None:
    """The same benefit (by id, or without id by programme, record, period and type) sent again
    with a corrected amount."""
    records = _records(registry_population)
    updates = _updates(registry_population)
    keyed_by = set()
    for case in _cases(registry_population, BENEFIT_CORRECTION):
        (record_id,) = case["records"]
        original = _benefit(_enrolment(records[record_id]), case)
        ((_, update),) = updates[case["case_id"]]
        (corrected,) = _enrolment(update["beneficiary"])["benefits"]
        assert _enrolment(update["beneficiary"])["beneficiary_programme_id"] == record_id
        keyed_by.add(case["keyed_by"])
        if case["keyed_by"] == "benefit_id":
            assert original["benefit_id"] == corrected["benefit_id"] == case["benefit_id"]
        else:
            assert case["benefit_id"] is None
            assert "benefit_id" not in original
            assert "benefit_id" not in corrected
        for field in ("benefit_type", "benefit_date", "period_start", "period_end"):
            assert original[field] == corrected[field] == case[field]
        assert original["benefit_value"] == {"amount": case["amount"], "currency": case["currency"]}
        assert corrected["benefit_value"]["amount"] == case["corrected_amount"] != case["amount"]
    assert keyed_by == {"benefit_id", "period"}


def test_benefit_reversal(registry_population: SmallPopulation) -> None:
    """The same benefit sent again with a disbursement Returned (5) or Cancelled (4)."""
    records = _records(registry_population)
    updates = _updates(registry_population)
    statuses = set()
    for case in _cases(registry_population, BENEFIT_REVERSAL):
        (record_id,) = case["records"]
        original = _benefit(_enrolment(records[record_id]), case)
        ((_, update),) = updates[case["case_id"]]
        (reversed_,) = _enrolment(update["beneficiary"])["benefits"]
        assert original["benefit_id"] == reversed_["benefit_id"] == case["benefit_id"]
        assert "disbursement" not in original
        assert reversed_["disbursement"]["payment_status"] == case["payment_status"]
        assert reversed_["benefit_value"]["amount"] == case["amount"]
        statuses.add(case["payment_status"])
    assert statuses == {"4", "5"}


def test_follow_ups_are_dated_after_the_snapshot_and_tagged(
    registry_population: SmallPopulation,
) -> None:
    """Every follow-up names a case of the truth file, as many times as the case says, and is
    dated after `as_of` (so it is newer than every base record)."""
    truth = {c["case_id"]: c for c in registry_population.truth}
    updates = _updates(registry_population)
    as_of = registry_population.config.as_of.isoformat()
    for case_id, steps in updates.items():
        assert len(steps) == truth[case_id]["updates"]
        for _, update in steps:
            record = update["beneficiary"]
            holder = record.get("member") or record["group"]
            assert holder["last_updated"][:10] > as_of
    expecting = {c["case_id"] for c in truth.values() if c.get("updates")}
    assert set(updates) == expecting


def test_cases_do_not_share_an_identity(registry_population: SmallPopulation) -> None:
    """One case per identity, so no case's expected outcome depends on another case."""
    identities = [c["identifier"] for c in registry_population.truth]
    assert len(identities) == len(set(identities))
