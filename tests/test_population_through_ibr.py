"""A synthetic population with planted truth, pushed through the real IBR by the reference SP-MIS.

`ibr_mock_data.small_population` generates a few hundred people, their programme records and a
truth file of planted overlaps and duplicates. The reference SP-MIS (`ibr_client`) publishes every
record to a live IBR (SQLite, and PostgreSQL `ibr_test_xpkg_*`), then the tests ask the IBR through
the SDK whether its answers agree with what the generator knows: who is enrolled where, which
identities hold incompatible programmes, and what a reported death does to a record.

Expectations come from the generator's records and truth file, never from the IBR itself; the
only IBR output used to build an expectation is its per-item accept/reject answer, so that a
record the IBR refused is not also counted against its searches.
"""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from ibr_client import IbrClient, ReferenceSpMis
from ibr_client.operations import OPERATIONS
from ibr_mock_data import CROSS_PROGRAMME_OVERLAP, DUPLICATE_IN_PROGRAMME, small_population
from ibr_mock_data.generate import SmallPopulation
from ibr_service.core.ingest import subject_key_for
from ibr_service.core.records import IdentifierRecord

JsonDict = dict[str, Any]
LiveIbrLike = Any  # conftest.LiveIbr (conftest modules cannot be imported under importlib mode)

# High planting rates so that a few hundred people carry every kind of overlap and duplicate.
# The registry cases (aliased identifiers, clashes, follow-ups) are recovered by
# test_registry_truth.py; here every record must be canonical, as the SDK validates what it sends.
REGISTRY_KINDS = (
    "split_identifier_order",
    "formatted_identifier",
    "aliased_identifier_type",
    "conflicting_demographics",
    "death_reported_elsewhere",
    "area_move",
    "stale_update",
    "benefit_correction",
    "benefit_reversal",
)
POPULATION_OPTIONS: JsonDict = {
    "seed": 13,
    "people": 600,
    "country": "KE",
    "truth": {
        "cross_programme_overlap": 0.15,
        "duplicate_in_programme": 0.05,
        "fuzzy_duplicate": 0.05,
        **dict.fromkeys(REGISTRY_KINDS, 0.0),
    },
}
# IBR-ENROLLED-001: enrolled means any status but Deceased, Graduated, Exited, Withdrawn.
ENDED_STATUSES = frozenset({"2", "3", "5", "6"})
DECEASED = "2"
SAMPLE = 50


# --- the generator's view ------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One generated programme record and the identity the IBR matches it on."""

    beneficiary: JsonDict
    programme: str
    status: str
    record_id: str
    identity: tuple[str, str] | None  # (identifier_type, identifier_value)
    people: tuple[JsonDict, ...]  # the member, or the group head and its member list

    @property
    def every_person_identified(self) -> bool:
        return all(person.get("member_identifier") for person in self.people)


def _identity(identifiers: Iterable[Mapping[str, str]]) -> tuple[str, str] | None:
    found = [(i["identifier_type"], i["identifier_value"]) for i in identifiers]
    national = [pair for pair in found if pair[0] == "NID"]
    return (national or found or [None])[0]


def as_record(beneficiary: JsonDict) -> Record:
    enrolment = beneficiary["programme_identifier"][0]
    if beneficiary["assistance_unit"] == "1":
        member = beneficiary["member"]
        identity = _identity(member.get("member_identifier", []))
        people: tuple[JsonDict, ...] = (member,)
    else:
        group = beneficiary["group"]
        identity = _identity(group.get("group_identifier", []))
        people = (group["group_head_info"], *group.get("member_list", []))
    return Record(
        beneficiary=beneficiary,
        programme=enrolment["programme"]["programme_identifier"],
        status=enrolment["enrolment_status"],
        record_id=enrolment["beneficiary_programme_id"],
        identity=identity,
        people=people,
    )


def incompatible_pairs(population: SmallPopulation) -> set[frozenset[str]]:
    return {
        frozenset((p.code, other))
        for p in population.config.programmes
        for other in p.incompatible_with
    }


# --- talking to the IBR through the SDK ------------------------------------------------------


def dump(model: Any) -> JsonDict:
    out: JsonDict = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


def search_by_identifier(client: IbrClient, identity: tuple[str, str]) -> list[JsonDict]:
    answer = dump(client.search([{"type": identity[0], "value": identity[1]}]))
    item = answer["search_response"][0]
    assert item["status"] == "succ", f"search {identity} was not answered: {item}"
    records: list[JsonDict] = item.get("data", {}).get("reg_records", [])
    return records


def programme_total(client: IbrClient, programme: str) -> int:
    """How many subjects the IBR holds in ``programme`` (search total, one-record page)."""
    query = {
        "type": "expression",
        "value": {"expression": {"query": {"programme_identifier": {"eq": programme}}}},
    }
    item = dump(client.search([query], query_type="expression", page_size=1))["search_response"][0]
    assert item["status"] == "succ", f"search of programme {programme} was not answered: {item}"
    total: int = item["pagination"]["total_count"]
    return total


def enrolled_in(client: IbrClient, identity: tuple[str, str], programme: str) -> str:
    """PRS.IBR.01 with a programme filter (IBR-ENROLLED-005): `yes` or `no`.

    The SDK's `enrolled()` sends only `idtype-value`, and its message builder cannot carry a
    predicate list (`dict(query)`), so the message is written here; the SDK still validates,
    signs, authenticates and sends it and parses the answer.
    """
    message = {
        "transaction_id": f"xpkg-{identity[1]}-{programme}",
        "enrolled_criteria": {
            "reference_id": "1",
            "query_type": "predicate",
            "response_entity": "Member",
            "query": [
                {
                    "seq_num": 1,
                    "expression1": {
                        "attribute_name": "identifier_value",
                        "operator": "eq",
                        "attribute_value": identity[1],
                    },
                    "condition": "and",
                    "expression2": {
                        "attribute_name": "programme_identifier",
                        "operator": "eq",
                        "attribute_value": programme,
                    },
                }
            ],
        },
    }
    answer = client._call_sync(OPERATIONS["enrolled"], message, 1)
    item = answer["enrolled_response"][0]
    assert item["status"] == "succ", f"enrolled check {identity} in {programme}: {item}"
    status: str = item["enrolled_status"]
    return status


def enrolments_by_programme(records: list[JsonDict]) -> dict[str, list[JsonDict]]:
    out: dict[str, list[JsonDict]] = defaultdict(list)
    for record in records:
        for enrolment in record.get("programme_identifier", []):
            out[enrolment["programme"]["programme_identifier"]].append(enrolment)
    return dict(out)


# --- fixtures ----------------------------------------------------------------------------------


@dataclass
class Published:
    """The population, and the IBR's answer to the first publication of each record."""

    population: SmallPopulation
    records: list[Record]
    answers: list[JsonDict]

    @property
    def accepted(self) -> list[Record]:
        return [r for r, a in zip(self.records, self.answers, strict=True) if a["status"] == "succ"]

    def identities_in(self, kind: str) -> set[str]:
        return {case["identifier"] for case in self.population.truth if case["kind"] == kind}

    def programmes_of(self) -> dict[tuple[str, str], dict[str, Record]]:
        """Accepted records by identity and programme (the last record of each programme)."""
        out: dict[tuple[str, str], dict[str, Record]] = defaultdict(dict)
        for record in self.accepted:
            if record.identity is not None:
                out[record.identity][record.programme] = record
        return dict(out)


@pytest.fixture(scope="module")
def population() -> SmallPopulation:
    return small_population(**POPULATION_OPTIONS)


@pytest.fixture(scope="module")
def published(sp_mis: ReferenceSpMis, population: SmallPopulation) -> Published:
    """Every generated record, published once through the SDK in batches of 100."""
    records = [as_record(b) for b in population.beneficiaries]
    responses = sp_mis.client.publish(population.beneficiaries, batch_size=100)
    answers = [item for r in responses for item in dump(r)["enrolled_response"]]
    assert len(answers) == len(records), "the IBR must answer every item (IBR-UPDATES-002)"
    return Published(population, records, answers)


def _rejections(pairs: Iterator[tuple[Record, JsonDict]]) -> list[str]:
    return [
        f"{record.record_id}: {answer.get('status_reason_code')} "
        f"{answer.get('status_reason_message')}"
        for record, answer in pairs
        if answer["status"] != "succ"
    ]


# --- 1. publication ------------------------------------------------------------------------


def test_every_record_with_identified_people_is_accepted(published: Published) -> None:
    """If this fails, the IBR refuses valid generator records whose people all carry an ID, so
    the demo and every count built on the mock data silently lose beneficiaries."""
    identified = [
        (r, a)
        for r, a in zip(published.records, published.answers, strict=True)
        if r.every_person_identified
    ]
    assert len(identified) > 100
    assert _rejections(iter(identified)) == []


def test_records_with_a_person_without_identifier_are_accepted(published: Published) -> None:
    """If this fails, the IBR rejects schema-valid records in which some person has
    `demographic_info` but no `member_identifier` (spec: a Member needs either, DEV-DATA-19), so a
    whole household drops out when one child has no ID, and the planted fuzzy duplicates (whose
    ID is missing by design) never reach the IBR that should find them."""
    unidentified = [
        (r, a)
        for r, a in zip(published.records, published.answers, strict=True)
        if not r.every_person_identified
    ]
    assert unidentified, "the population should hold people without any identifier"
    assert _rejections(iter(unidentified)) == []


def republish(sp_mis: ReferenceSpMis, published: Published) -> None:
    """Send every record again (new transaction ids, as a retry or a nightly full push does)."""
    again = sp_mis.client.publish(published.population.beneficiaries, batch_size=100)
    statuses = [item["status"] for r in again for item in dump(r)["enrolled_response"]]
    assert statuses == [a["status"] for a in published.answers]


def test_republishing_the_same_records_keeps_search_totals(
    published: Published, sp_mis: ReferenceSpMis
) -> None:
    """If this fails, an SP-MIS that re-sends a batch (a retry, a nightly full push) changes
    what the IBR reports: people would be counted twice in a programme, or disappear."""
    expected: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in published.accepted:
        # A person without any identifier is its own subject, keyed by the sender's record.
        identity = record.identity or ("record", record.record_id)
        expected[record.programme].add(identity)
    programmes = sorted(p.code for p in published.population.config.programmes)
    before = {p: programme_total(sp_mis.client, p) for p in programmes}
    assert before == {p: len(expected.get(p, ())) for p in programmes}, (
        "the IBR's subjects per programme differ from the distinct identities the generator "
        "enrolled (accepted records only)"
    )
    republish(sp_mis, published)
    assert {p: programme_total(sp_mis.client, p) for p in programmes} == before


def test_republishing_the_same_records_writes_no_rows(
    published: Published, sp_mis: ReferenceSpMis, live_ibr: LiveIbrLike
) -> None:
    """If this fails, re-sending identical records writes enrolment data (the service promises
    an identical re-send is `unchanged` and writes nothing): the status history then records
    changes that never happened, which is what audits and PRS.IBR.03 notifications read."""
    with live_ibr.host.store.transaction() as tx:
        rows_before = tx.count_rows()
    republish(sp_mis, published)
    with live_ibr.host.store.transaction() as tx:
        rows_after = tx.count_rows()
    # Each request is a new transaction with its own audit entry and replay memory.
    request_tables = {"audit_log", "seen_messages", "transactions", "transaction_references"}
    changed = {
        table: (rows_before[table], rows_after[table])
        for table in rows_before
        if rows_before[table] != rows_after[table] and table not in request_tables
    }
    assert changed == {}, f"re-publishing wrote rows: {changed}"


# --- 2. enrolled check -----------------------------------------------------------------------


def test_enrolled_check_agrees_with_the_generator(
    published: Published, sp_mis: ReferenceSpMis
) -> None:
    """If this fails, PRS.IBR.01 answers wrongly: a programme would pay someone the IBR says is
    not enrolled elsewhere, or refuse someone because of an enrolment that does not exist."""
    rng = random.Random(POPULATION_OPTIONS["seed"])
    by_identity = published.programmes_of()
    # Planted in-programme duplicates are two enrolments of one person (test_registry_truth.py);
    # they are left out here because "enrolled in P" then depends on either record's status.
    duplicated = published.identities_in(DUPLICATE_IN_PROGRAMME)
    people = sorted(
        (identity, programmes)
        for identity, programmes in by_identity.items()
        if identity[0] != "HOUSEHOLD_ID" and identity[1] not in duplicated
    )
    enrolled_pairs = [
        (identity, code)
        for identity, programmes in people
        for code, record in programmes.items()
        if record.status not in ENDED_STATUSES
    ]
    ended_pairs = [
        (identity, code)
        for identity, programmes in people
        for code, record in programmes.items()
        if record.status in ENDED_STATUSES
    ]
    all_codes = sorted(p.code for p in published.population.config.programmes)
    absent_pairs = [
        (identity, code)
        for identity, programmes in people
        for code in all_codes
        if code not in programmes
    ]
    checks = [
        *((pair, "yes") for pair in rng.sample(enrolled_pairs, SAMPLE)),
        *((pair, "no") for pair in rng.sample(ended_pairs, min(20, len(ended_pairs)))),
        *((pair, "no") for pair in rng.sample(absent_pairs, 20)),
    ]
    wrong = [
        f"{identity} in {code}: expected {want}, got {got}"
        for (identity, code), want in checks
        if (got := enrolled_in(sp_mis.client, identity, code)) != want
    ]
    assert wrong == []

    # Without a programme filter: yes when any enrolment is current; no for people the
    # generator never enrolled (not even as a household member).
    in_any_record = {
        i["identifier_value"]
        for r in published.records
        for person in r.people
        for i in person.get("member_identifier", [])
    }
    never_enrolled = sorted(
        p.national_id
        for h in published.population.households
        for p in h.members
        if p.national_id is not None and p.national_id not in in_any_record
    )
    sample = rng.sample(people, SAMPLE)
    person_checks = [
        *(
            (
                identity,
                "yes" if any(r.status not in ENDED_STATUSES for r in programmes.values()) else "no",
            )
            for identity, programmes in sample
        ),
        *((("NID", nid), "no") for nid in rng.sample(never_enrolled, 20)),
    ]
    answers = sp_mis.client.enrolled_bulk([identity for identity, _ in person_checks])
    got = [item.enrolled_status for answer in answers for item in answer.enrolled_response]
    wrong = [
        f"{identity}: expected {want}, got {answer}"
        for (identity, want), answer in zip(person_checks, got, strict=True)
        if want != answer
    ]
    assert wrong == []


# --- 3. planted overlaps -------------------------------------------------------------------


def test_planted_overlaps_agree_with_the_truth_file_both_ways(
    published: Published, sp_mis: ReferenceSpMis
) -> None:
    """If this fails, the IBR does not show what it exists to show: an identity enrolled in two
    programmes that must not combine (or it invents such an overlap, or loses an enrolment)."""
    blocked = incompatible_pairs(published.population)
    by_identity = published.programmes_of()
    accepted_ids = {r.record_id for r in published.accepted}
    overlap_cases = [
        case for case in published.population.truth if case["kind"] == CROSS_PROGRAMME_OVERLAP
    ]
    checkable = [c for c in overlap_cases if set(c["records"]) <= accepted_ids]
    assert len(checkable) >= 5, f"too few planted overlaps were accepted: {len(checkable)}"
    type_of = {identity[1]: identity[0] for identity in by_identity}

    for case in checkable:
        identity = (type_of[case["identifier"]], case["identifier"])
        found = search_by_identifier(sp_mis.client, identity)
        assert len(found) == 1, f"{identity} should be one subject, got {len(found)}"
        enrolments = enrolments_by_programme(found)
        assert set(case["programmes"]) <= set(enrolments), (
            f"case {case['case_id']}: IBR shows {sorted(enrolments)}, truth {case['programmes']}"
        )
        shown_ids = {e.get("beneficiary_programme_id") for es in enrolments.values() for e in es}
        assert set(case["records"]) <= shown_ids, f"case {case['case_id']}: records missing"

    # The other direction: identities with no planted overlap show exactly the programmes the
    # generator gave them, one enrolment each, and never an incompatible pair.
    overlapping = {c["identifier"] for c in overlap_cases}
    duplicated = published.identities_in(DUPLICATE_IN_PROGRAMME)
    clean = sorted(
        identity
        for identity in by_identity
        if identity[1] not in overlapping and identity[1] not in duplicated
    )
    rng = random.Random(POPULATION_OPTIONS["seed"] + 1)
    for identity in rng.sample(clean, SAMPLE):
        enrolments = enrolments_by_programme(search_by_identifier(sp_mis.client, identity))
        assert {p: len(es) for p, es in enrolments.items()} == dict.fromkeys(
            by_identity[identity], 1
        ), f"{identity}: IBR programmes differ from the generator's"
        pairs = {frozenset((a, b)) for a in enrolments for b in enrolments if a != b}
        assert not pairs & blocked, f"{identity}: IBR shows an overlap the truth file lacks"


# --- 4. a death ------------------------------------------------------------------------------


def test_reported_death_shows_in_search_and_keeps_history(
    published: Published, sp_mis: ReferenceSpMis, live_ibr: LiveIbrLike
) -> None:
    """If this fails, PRS.IBR.03 is broken: a death reported by a programme is not visible to
    the others (they keep paying), or reporting it erases the enrolment's earlier status or
    benefit history that audits rely on."""
    in_truth = {case["identifier"] for case in published.population.truth}
    candidates = sorted(
        (
            r
            for r in published.accepted
            if r.beneficiary["assistance_unit"] == "1"
            and r.identity is not None
            and r.identity[0] == "NID"
            and r.identity[1] not in in_truth
            and r.status == "1"
            and r.beneficiary["programme_identifier"][0].get("benefits")
        ),
        key=lambda r: r.record_id,
    )
    target = candidates[0]
    assert target.identity is not None
    death = copy.deepcopy(target.beneficiary)
    enrolment = death["programme_identifier"][0]
    enrolment["enrolment_status"] = DECEASED
    enrolment["status_change_date"] = "2025-07-02"
    enrolment["status_reason"] = "death registered by CRVS"
    death["member"]["demographic_info"]["death_date"] = "2025-06-29"

    answers = sp_mis.client.report_status_changes([death])
    assert [item.status for a in answers for item in a.enrolled_response] == ["succ"]

    [record] = search_by_identifier(sp_mis.client, target.identity)
    [shown] = enrolments_by_programme([record])[target.programme]
    assert shown["enrolment_status"] == DECEASED
    assert shown["status_change_date"] == "2025-07-02"
    assert record["member"]["demographic_info"].get("death_date") == "2025-06-29"
    original = target.beneficiary["programme_identifier"][0]
    assert shown["enrolment_date"] == original["enrolment_date"]
    assert {b["benefit_id"] for b in shown.get("benefits", [])} == {
        b["benefit_id"] for b in original["benefits"]
    }, "the benefits paid before the death must stay on record"
    assert sp_mis.client.enrolled(*target.identity).enrolled_response[0].enrolled_status == "no"

    # The status history keeps the earlier status; the store is read directly because the
    # standard has no query for it.
    subject = subject_key_for("person", IdentifierRecord(*target.identity))
    with live_ibr.host.store.transaction() as tx:
        history = tx.status_history(f"{subject}|{target.programme}|{target.record_id}")
    assert [
        (h.enrolment_status, h.status_change_date and h.status_change_date.isoformat())
        for h in history
    ] == [
        (original["enrolment_status"], original["status_change_date"]),
        (DECEASED, "2025-07-02"),
    ]
