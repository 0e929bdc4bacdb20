"""People without any identifier (a Member needs member_identifier OR demographic_info).

Their subject key is derived (docs/storage-and-distribution.md, "People without an identifier"):
from the household's key, from the sender's record id, or from name + birth date, always scoped
so that two senders' or two programmes' unidentified people are never merged by ingest.
Runs on SQLite and on PostgreSQL (a database `ibr_test_fix_*` of its own).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.identity import DEFAULT_IDENTIFIER_TYPES
from ibr_service.core.ingest import ItemRejectedError, updates_from_beneficiary
from ibr_service.core.samples import enrollment_message, group_beneficiary, person_beneficiary
from ibr_service.store_sql import SqlStore, upgrade

from ..api.conftest import pg_database
from .conftest import SP, StepClock, counts

NOW = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with pg_database("ibr_test_fix") as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IbrCore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ibr.db'}"
        upgrade(url)
        store = SqlStore.from_url(url)
    else:
        store = SqlStore.from_url(request.getfixturevalue("pg_url"))
        with store.engine.begin() as conn:
            names = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename<>'alembic_version'"
                )
            ).scalars()
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)))
    yield IbrCore(store, clock=StepClock(), settings=CoreSettings(receiver_id="IBR"))
    store.engine.dispose()


def unidentified_person(
    given_name: str,
    *,
    record_id: str | None = None,
    programme: str = "DCI001",
    birth_date: str = "2015-03-01",
) -> dict[str, Any]:
    """An individual beneficiary whose member has demographic_info and no identifier."""
    beneficiary = person_beneficiary("0", programme=programme, given_name=given_name)
    member = beneficiary["member"]
    del member["member_identifier"]
    del member["demographic_info"]["identifier"]
    member["demographic_info"]["birth_date"] = birth_date
    enrolment = beneficiary["programme_identifier"][0]
    del enrolment["benefits"]
    if record_id is not None:
        enrolment["beneficiary_programme_id"] = record_id
    return beneficiary


def household_with_unidentified_child(household_id: str = "H-9") -> dict[str, Any]:
    beneficiary = group_beneficiary(household_id, ["71", "72"])
    child = {
        "demographic_info": {
            "name": {"given_name": "Baraka", "surname": "Household"},
            "birth_date": "2019-07-07",
        }
    }
    beneficiary["group"]["member_list"].append(child)
    beneficiary["group"]["group_size"] = 3
    return beneficiary


def statuses(response: dict[str, Any]) -> list[str]:
    return [i["status"] for i in response["enrolled_response"]]


def test_household_with_a_child_without_id_is_accepted_with_all_members(core: IbrCore) -> None:
    """If this fails, a whole household enrolment is lost because one child has no ID."""
    response = core.enrollment_updates(
        enrollment_message([household_with_unidentified_child()]), caller=SP
    )
    assert statuses(response) == ["succ"]
    rows = counts(core)
    assert (rows["subjects"], rows["memberships"], rows["enrolments"]) == (4, 3, 1)


def test_individual_with_only_demographic_info_is_accepted(core: IbrCore) -> None:
    """If this fails, a schema-valid Member with demographic_info and no member_identifier is
    refused, although the spec allows either (DEV-DATA-19)."""
    message = enrollment_message(
        [unidentified_person("Zawadi"), unidentified_person("Neema", record_id="REC-1")]
    )
    assert statuses(core.enrollment_updates(message, caller=SP)) == ["succ", "succ"]
    assert counts(core)["subjects"] == 2


def test_resending_unidentified_people_changes_nothing(core: IbrCore) -> None:
    """If this fails, re-sending a record with an ID-less person creates a second subject,
    rewrites rows, or adds history or audit entries for a change that never happened."""
    batch = enrollment_message(
        [
            household_with_unidentified_child(),
            unidentified_person("Zawadi"),
            unidentified_person("Neema", record_id="REC-1"),
        ]
    )
    core.enrollment_updates(batch, caller=SP)
    before = counts(core)
    again = core.enrollment_updates(copy.deepcopy(batch), caller=SP)
    after = counts(core)
    assert statuses(again) == ["succ"] * 3
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"transactions": 1}
    assert before["enrolment_status_history"] == 3
    assert before["audit_log"] == 1


def test_different_unidentified_people_are_not_merged(core: IbrCore) -> None:
    """If this fails, ingest merges different people who merely lack an ID (merging is
    duplicate detection's job): by name, by record id, across programmes and senders."""
    other_sender = Caller(sender_id="SP-Other", scopes=frozenset({"ibr.write"}))
    core.enrollment_updates(
        enrollment_message(
            [
                unidentified_person("Zawadi"),
                unidentified_person("Neema"),
                unidentified_person("Zawadi", birth_date="2016-01-01"),
                unidentified_person("Zawadi", programme="DCI002"),
                unidentified_person("Amani", record_id="REC-1"),
                unidentified_person("Amani", record_id="REC-2"),
            ]
        ),
        caller=SP,
    )
    core.enrollment_updates(
        enrollment_message([unidentified_person("Zawadi")]), caller=other_sender
    )
    assert counts(core)["subjects"] == 7


def test_same_unidentified_person_sent_again_is_the_same_subject(
    core: IbrCore,
) -> None:
    """If this fails, an SP-MIS that reports a status change for a person without an ID creates
    a new person instead of updating the one it enrolled."""
    first = unidentified_person("Neema", record_id="REC-7")
    core.enrollment_updates(
        enrollment_message([first, household_with_unidentified_child()]), caller=SP
    )
    changed = copy.deepcopy(first)
    changed["member"]["demographic_info"]["name"]["surname"] = "Corrected"  # record id anchors
    changed["programme_identifier"][0]["enrolment_status"] = "4"
    changed["programme_identifier"][0]["status_change_date"] = "2024-04-30"
    household = household_with_unidentified_child()
    household["group"]["member_list"].reverse()  # the child is found by name + birth date
    response = core.enrollment_updates(enrollment_message([changed, household]), caller=SP)
    assert statuses(response) == ["succ", "succ"]
    rows = counts(core)
    assert (rows["subjects"], rows["enrolments"], rows["memberships"]) == (5, 2, 3)
    assert rows["enrolment_status_history"] == 3  # two creations, one suspension


def test_person_that_cannot_be_told_apart_is_rejected_alone() -> None:
    """If this fails, an ID-less person with no record id and no name + birth date either
    gets a key that would merge it with others, or its rejection does not name the field."""
    anonymous = unidentified_person("Zawadi")
    del anonymous["member"]["demographic_info"]["birth_date"]
    with pytest.raises(ItemRejectedError) as caught:
        updates_from_beneficiary(
            anonymous, caller=SP, now=NOW, identifier_types=DEFAULT_IDENTIFIER_TYPES, field="b[0]"
        )
    assert caught.value.reason == "rjct.beneficiary.invalid"
    assert caught.value.field == "b[0].member.member_identifier"
    assert "beneficiary_programme_id" in caught.value.message


def test_identified_people_keep_their_identifier_key() -> None:
    """If this fails, the derived keys leaked into identified people, whose key must stay the
    national ID (the distribution key and what searches by ID compute)."""
    [update] = updates_from_beneficiary(
        household_with_unidentified_child(),
        caller=SP,
        now=NOW,
        identifier_types=DEFAULT_IDENTIFIER_TYPES,
        field="b[0]",
    )
    keys = [m.subject_key for m in update.members]
    assert keys[:2] == ["p:NID:71", "p:NID:72"]
    assert keys[2].startswith("p:~hh:")
    assert update.subject.subject_key == "g:HOUSEHOLD_ID:H-9"
