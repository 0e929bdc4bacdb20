"""The one-query batch check on households whose members hold the programmes (the mock
population's household overlaps are all groups enrolled themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from ibr_service.analytics.cases import overlap_rows
from ibr_service.analytics.overlaps import detect_overlaps
from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
from ibr_service.analytics.overlaps_touched import overlaps_of_touched
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.store_sql import upgrade
from ibr_service.store_sql.tables import enrolments, memberships, subjects

NOW = datetime(2026, 1, 5, tzinfo=UTC)
HOUSEHOLDS = {  # group -> members; p:c lives in two households
    "g:1": ["p:a", "p:b"],
    "g:2": ["p:c", "p:d"],
    "g:3": ["p:c", "p:e"],
    "g:4": ["p:f"],
}
ENROLLED = [  # (subject, programme): members' and groups' own enrolments
    ("p:a", "CCT"), ("p:b", "FOOD"),  # g:1 through two members
    ("g:2", "FOOD"), ("p:d", "CCT"),  # g:2 as a group and through a member
    ("p:e", "FOOD"), ("p:c", "CCT"),  # g:3 (and g:2: p:c is in both)
    ("p:f", "OAP"), ("p:f", "DSG"), ("p:f", "CCT"),  # a person overlap; g:4 has no FOOD
]  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('households') / 'ibr.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    people = {m for members in HOUSEHOLDS.values() for m in members}
    with engine.begin() as connection:
        connection.execute(
            subjects.insert(),
            [
                {"subject_key": key, "kind": "group" if key.startswith("g:") else "person",
                 "document": {}, "content_hash": "-", "created_at": NOW, "updated_at": NOW}
                for key in sorted(people | set(HOUSEHOLDS))
            ],
        )  # fmt: skip
        connection.execute(
            memberships.insert(),
            [{"subject_key": g, "member_key": m} for g, ms in HOUSEHOLDS.items() for m in ms],
        )
        connection.execute(
            enrolments.insert(),
            [
                {"subject_key": s, "enrolment_key": f"{s}|{p}", "programme_identifier": p,
                 "enrolment_status": "1", "enrolment_date": date(2024, 1, n + 1),
                 "beneficiary_programme_id": f"{p}-{n}", "source_key": f"S|{p}|{n}",
                 "sender_id": "S", "content_hash": "-", "updated_at": NOW}
                for n, (s, p) in enumerate(ENROLLED)
            ],
        )  # fmt: skip
    yield engine
    engine.dispose()


def test_household_overlaps_through_members_are_found_by_one_query(engine: sa.Engine) -> None:
    rules = load_rules()
    full = overlap_rows(detect_overlaps(frames_from_engine(engine), rules))
    assert overlap_rows(detect_overlaps_in_database(engine, rules)) == full
    household = {(r["identity_key"], r["enrolment_key_a"], r["enrolment_key_b"]) for r in full
                 if r["unit"] == "household"}  # fmt: skip
    assert household == {
        ("g:1", "p:a|CCT", "p:b|FOOD"),
        ("g:2", "p:d|CCT", "g:2|FOOD"),
        ("g:2", "p:c|CCT", "g:2|FOOD"),
        ("g:3", "p:c|CCT", "p:e|FOOD"),
    }
    everyone = [key for key, _ in ENROLLED]
    with engine.connect() as connection:
        assert overlaps_of_touched(connection, rules, everyone) == full
        for key in everyone:
            found = overlaps_of_touched(connection, rules, [key])
            mine = [r for r in full if r["identity_key"] in {key, *_households_of(key)}]
            assert all(r in found for r in mine), key
            assert all(r in full for r in found), key


def _households_of(key: str) -> set[str]:
    return {group for group, members in HOUSEHOLDS.items() if key in members}
