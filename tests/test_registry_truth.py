"""A mock population's planted truth, pushed through the IBR's API, recovered exactly.

Every programme of `ibr_mock_data`'s catalogue is run by its own SP-MIS (a registered client that
may write only that programme); each pushes its base records, then the follow-up stream is pushed
in order (deaths, moves, stale updates, benefit corrections and reversals). The expectations come
from the generator's truth file only; the IBR's per-item answers are used only to leave out
records it refused, and every refusal is itself asserted to be none.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from ibr_mock_data import identifier_types_file, small_population
from ibr_mock_data.generate import SmallPopulation
from ibr_protocol.clock import utc_now
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import ScriptedSpMis, enrollment_message
from ibr_service.core.query import And, Attribute, Comparison, IdentifierIs, Missing, Operator
from ibr_service.core.records import EnrolmentRecord
from ibr_service.core.stewardship import deceased_still_enrolled
from ibr_service.security.clients import register_client
from ibr_service.settings import Settings

from .conftest import drop_pg_database, fresh_pg_database

KINDS = (
    "duplicate_in_programme",
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
OPTIONS: dict[str, Any] = {
    "seed": 21,
    "people": 700,
    "country": "KE",
    "truth": {kind: 0.01 for kind in KINDS} | {"fuzzy_duplicate": 0.0},
}
JsonDict = dict[str, Any]


@dataclass
class Pushed:
    box: Sandbox
    population: SmallPopulation
    rejected: list[str]

    def cases(self, kind: str) -> list[JsonDict]:
        found = [c for c in self.population.truth if c["kind"] == kind]
        assert found, f"the population holds no {kind} case"
        return found

    def enrolments_of_record(self, programme: str, record_id: str) -> list[EnrolmentRecord]:
        query = Comparison(Attribute.BENEFICIARY_PROGRAMME_ID, Operator.EQ, record_id)
        with self.box.host.store.transaction() as tx:
            keys, _ = tx.search_subjects(query, kind=None, sort=(), offset=0, limit=10)
            loaded = tx.load_beneficiaries(keys)
        return [
            e
            for b in loaded
            for e, _, _ in b.enrolments
            if e.programme_identifier == programme and e.beneficiary_programme_id == record_id
        ]

    def subjects_with_nid(self, nid: str) -> list[str]:
        with self.box.host.store.transaction() as tx:
            keys, _ = tx.search_subjects(
                IdentifierIs("NID", nid), kind="person", sort=(), offset=0, limit=10
            )
        return keys


def _programme_of(beneficiary: JsonDict) -> str:
    return str(beneficiary["programme_identifier"][0]["programme"]["programme_identifier"])


def _push(client: ScriptedSpMis, batch: list[JsonDict]) -> list[JsonDict]:
    response = client.send("/registry/sync/enrollment/updates", "notify", enrollment_message(batch))
    assert response.status_code == 200, response.text[:500]
    items: list[JsonDict] = response.json()["message"]["enrolled_response"]
    return items


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def pushed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pushed]:
    population = small_population(**OPTIONS)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('truth')}/ibr.db"
    else:
        url = fresh_pg_database(f"ibr_test_truth_{uuid.uuid4().hex[:10]}")
    settings = Settings(
        database_url=url,
        run_outbox=False,
        identifier_types_file=str(identifier_types_file()),
    )
    with sandbox(settings) as box:
        clients = {p.code: _client(box, p.code) for p in population.config.programmes}
        rejected: list[str] = []
        by_programme: dict[str, list[JsonDict]] = defaultdict(list)
        for beneficiary in population.beneficiaries:
            by_programme[_programme_of(beneficiary)].append(beneficiary)
        for programme, records in sorted(by_programme.items()):
            for start in range(0, len(records), 200):
                batch = records[start : start + 200]
                for item in _push(clients[programme], batch):
                    if item["status"] != "succ":
                        rejected.append(f"{programme}: {item.get('status_reason_message')}")
        for update in population.updates:
            beneficiary = update["beneficiary"]
            (item,) = _push(clients[_programme_of(beneficiary)], [beneficiary])
            if item["status"] != "succ":
                rejected.append(f"{update['case_id']}: {item.get('status_reason_message')}")
        yield Pushed(box, population, rejected)
    if request.param == "postgres":
        drop_pg_database(url.rsplit("/", 1)[-1])


def _client(box: Sandbox, programme: str) -> ScriptedSpMis:
    settings = box.host.settings
    client = ScriptedSpMis(
        base_url=f"{box.url}{settings.base_path}",
        sender_id=f"mis-{programme.lower()}",
        client_secret="",
        receiver_id=settings.receiver_id,
    )
    record, secret = register_client(
        box.host.store,
        sender_id=client.sender_id,
        now=utc_now(),
        public_keys=[client.public_jwk],
        allowed_programmes=(programme,),
    )
    with box.host.store.transaction() as tx:
        tx.put_client(replace(record, read_programmes="all"))
    client.client_secret = secret
    return client


def test_every_record_and_follow_up_is_accepted(pushed: Pushed) -> None:
    """If this fails, the IBR refuses valid generator records, and the truth below is partial."""
    assert pushed.rejected == []


def test_in_programme_duplicates_are_two_enrolments_of_one_subject(pushed: Pushed) -> None:
    for case in pushed.cases("duplicate_in_programme"):
        (programme,) = set(case["programmes"])
        found = [e for r in case["records"] for e in pushed.enrolments_of_record(programme, r)]
        assert len(found) == 2, f"{case['case_id']}: {len(found)} enrolments"
        assert len({e.subject_key for e in found}) == 1, f"{case['case_id']}: two subjects"
        assert len({e.enrolment_key for e in found}) == 2


@pytest.mark.parametrize(
    "kind", ["split_identifier_order", "formatted_identifier", "aliased_identifier_type"]
)
def test_one_person_whatever_the_identifiers_look_like(pushed: Pushed, kind: str) -> None:
    for case in pushed.cases(kind):
        subjects = pushed.subjects_with_nid(case["identifier"])
        assert len(subjects) == 1, f"{case['case_id']}: {subjects}"
        held = {
            e.subject_key
            for programme, record in zip(case["programmes"], case["records"], strict=True)
            for e in pushed.enrolments_of_record(programme, record)
        }
        assert held == set(subjects), f"{case['case_id']}: records on {held}"


def test_conflicting_demographics_open_a_case_and_overwrite_nothing(pushed: Pushed) -> None:
    with pushed.box.host.store.transaction() as tx:
        cases = tx.identity_cases(status="open")
    clashes = {c.evidence.get("source_key", ""): c for c in cases if c.kind == "demographic_clash"}
    for case in pushed.cases("conflicting_demographics"):
        planted = (
            f"mis-{case['programmes'][-1].lower()}|{case['programmes'][-1]}|{case['records'][-1]}"
        )
        assert planted in clashes, f"{case['case_id']}: no identity case for {planted}"
        (subject,) = pushed.subjects_with_nid(case["identifier"])
        with pushed.box.host.store.transaction() as tx:
            state = tx.load_subject_states([subject])[subject]
        assert state.subject.birth_date is not None
        assert state.subject.birth_date.isoformat() == case["true_birth_date"]
        assert state.subject.sex == case["true_sex"]
        assert planted not in {s.source_key for s in state.sources}


def test_a_death_reported_elsewhere_ends_every_enrolment_of_the_person(pushed: Pushed) -> None:
    open_after = {
        (k, e.programme_identifier, e.beneficiary_programme_id)
        for k, e in deceased_still_enrolled(pushed.box.host.store, pushed.box.host.core.settings)
    }
    for case in pushed.cases("death_reported_elsewhere"):
        (subject,) = pushed.subjects_with_nid(case["identifier"])
        still_enrolled = And(
            (
                IdentifierIs("NID", case["identifier"]),
                Comparison(Attribute.ENROLMENT_STATUS, Operator.IN, ("1", "4", "7")),
                Missing(Attribute.DEATH_DATE),
            )
        )
        with pushed.box.host.store.transaction() as tx:
            state = tx.load_subject_states([subject])[subject]
            assert not tx.subject_exists(still_enrolled, kind="person")
        assert state.subject.death_date is not None
        assert state.subject.death_date.isoformat() == case["death_date"]
        for record in case["open_elsewhere"]:
            programme = case["programmes"][case["records"].index(record)]
            assert (subject, programme, record) in open_after, f"{case['case_id']}: {record}"


def test_moves_between_areas_are_current_and_kept_in_history(pushed: Pushed) -> None:
    for case in pushed.cases("area_move"):
        (subject,) = pushed.subjects_with_nid(case["identifier"])
        with pushed.box.host.store.transaction() as tx:
            state = tx.load_subject_states([subject])[subject]
            moves = tx.area_history(subject)
        target = case["to_area"]
        assert state.subject.area_levels[:2] == (target["region_code"], target["sub_region_code"])
        assert moves[-1].area_code == target["sub_region_code"]
        assert len(moves) >= 2, f"{case['case_id']}: the move was not kept"


def test_a_stale_update_does_not_replace_a_newer_exit(pushed: Pushed) -> None:
    for case in pushed.cases("stale_update"):
        (programme,) = case["programmes"][:1]
        (enrolment,) = pushed.enrolments_of_record(programme, case["records"][0])
        assert enrolment.enrolment_status == case["final_status"]
        with pushed.box.host.store.transaction() as tx:
            history = tx.status_history(enrolment.enrolment_key)
        assert [(h.enrolment_status, h.applied) for h in history][-2:] == [
            (case["final_status"], True),
            (case["stale_status"], False),
        ]


@pytest.mark.parametrize("kind", ["benefit_correction", "benefit_reversal"])
def test_a_corrected_or_reversed_benefit_replaces_it(pushed: Pushed, kind: str) -> None:
    for case in pushed.cases(kind):
        programme = case["programmes"][0]
        (enrolment,) = pushed.enrolments_of_record(programme, case["records"][0])
        with pushed.box.host.store.transaction() as tx:
            (stored,) = tx.load_beneficiaries([enrolment.subject_key])
            history = tx.benefit_history(enrolment.enrolment_key)
        benefits = [
            b
            for e, _, bs in stored.enrolments
            if e.enrolment_key == enrolment.enrolment_key
            for b in bs
            if b.benefit_date is not None
            and b.benefit_date.isoformat() == case["benefit_date"]
            and b.benefit_type == case["benefit_type"]
        ]
        assert len(benefits) == 1, f"{case['case_id']}: {len(benefits)} benefits, want 1"
        if kind == "benefit_correction":
            assert benefits[0].amount == Decimal(str(case["corrected_amount"]))
            assert "corrected" in [h.change for h in history]
        else:
            assert benefits[0].payment_status == case["payment_status"]
            assert {"cancelled", "reversed"} & {h.change for h in history}


def test_no_source_lost_what_it_said(pushed: Pushed) -> None:
    """Every accepted base record of a person keeps its own source record (unless its own
    follow-up replaced it), with the name it sent: no source erased another's facts."""
    followed = {
        (
            _programme_of(u["beneficiary"]),
            u["beneficiary"]["programme_identifier"][0]["beneficiary_programme_id"],
        )
        for u in pushed.population.updates
    }
    clash_records = {
        c["records"][-1] for c in pushed.population.truth if c["kind"] == "conflicting_demographics"
    }
    with pushed.box.host.store.transaction() as tx:
        sources: dict[str, Any] = {}
        for chunk in _chunks(pushed.population.beneficiaries, 300):
            keys = [_source_key(b) for b in chunk if b["assistance_unit"] == "1"]
            subject_keys = set(tx.subjects_by_sources(keys).values())
            for state in tx.load_subject_states(sorted(subject_keys)).values():
                sources.update({s.source_key: s for s in state.sources})
    checked = 0
    for beneficiary in pushed.population.beneficiaries:
        if beneficiary["assistance_unit"] != "1":
            continue
        enrolment = beneficiary["programme_identifier"][0]
        record = enrolment["beneficiary_programme_id"]
        if (_programme_of(beneficiary), record) in followed:
            continue
        source = sources.get(_source_key(beneficiary))
        assert source is not None, f"{record}: its source record is gone"
        name = beneficiary["member"].get("demographic_info", {}).get("name", {})
        assert source.subject.given_name == name.get("given_name"), f"{record}: name replaced"
        checked += 1 if record not in clash_records else 0
    assert checked > 100


def _source_key(beneficiary: JsonDict) -> str:
    programme = _programme_of(beneficiary)
    record = beneficiary["programme_identifier"][0]["beneficiary_programme_id"]
    return f"mis-{programme.lower()}|{programme}|{record}"


def _chunks(items: list[JsonDict], size: int) -> Iterator[list[JsonDict]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
