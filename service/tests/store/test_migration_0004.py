"""Migration 0004 (the registry model) keeps the data of a database the previous code filled.

The database is filled at revision 0003 with the rows the previous code wrote (enrolment keys
`subject|programme`, amounts as text, addresses only inside the stored document), upgraded to
head, and read back through the store: it answers as before and holds the new facts. On SQLite
and PostgreSQL (database ibr_test_mig4).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from ibr_service.core.query import And, Attribute, Comparison, IdentifierIs, Operator
from ibr_service.core.records import IdentifierRecord, RegistryWrite
from ibr_service.core.store_contract import registry_enrolment, registry_write_of
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.migrate import alembic_config

from ..api.conftest import pg_database
from .conftest import _postgres_available

PG_DB = "ibr_test_mig4"
AT = datetime(2024, 7, 1, 9, 30, tzinfo=UTC)


def _old_table(name: str, *columns: tuple[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(n, t) for n, t in columns))


_JSON = sa.JSON()
OLD_SUBJECTS = _old_table(
    "subjects",
    *(
        (n, t)
        for n, t in (
            ("subject_key", sa.String()),
            ("kind", sa.String()),
            ("given_name", sa.String()),
            ("surname", sa.String()),
            ("sex", sa.String()),
            ("birth_date", sa.Date()),
            ("death_date", sa.Date()),
            ("group_type", sa.String()),
            ("group_size", sa.Integer()),
            ("poverty_score", sa.Float()),
            ("document", _JSON),
            ("content_hash", sa.String()),
            ("created_at", sa.DateTime(timezone=True)),
            ("updated_at", sa.DateTime(timezone=True)),
        )
    ),
)
OLD_IDENTIFIERS = _old_table(
    "identifiers",
    ("subject_key", sa.String()),
    ("identifier_type", sa.String()),
    ("identifier_value", sa.String()),
)
OLD_MEMBERSHIPS = _old_table(
    "memberships", ("subject_key", sa.String()), ("member_key", sa.String())
)
OLD_PROGRAMMES = _old_table(
    "programmes",
    ("programme_identifier", sa.String()),
    ("programme_name", sa.String()),
    ("document", _JSON),
    ("updated_at", sa.DateTime(timezone=True)),
)
OLD_ENROLMENTS = _old_table(
    "enrolments",
    ("subject_key", sa.String()),
    ("enrolment_key", sa.String()),
    ("programme_identifier", sa.String()),
    ("enrolment_status", sa.String()),
    ("enrolment_date", sa.Date()),
    ("status_change_date", sa.Date()),
    ("status_reason", sa.String()),
    ("beneficiary_programme_id", sa.String()),
    ("sender_id", sa.String()),
    ("content_hash", sa.String()),
    ("updated_at", sa.DateTime(timezone=True)),
)
OLD_HISTORY = _old_table(
    "enrolment_status_history",
    ("subject_key", sa.String()),
    ("change_id", sa.String()),
    ("enrolment_key", sa.String()),
    ("enrolment_status", sa.String()),
    ("status_change_date", sa.Date()),
    ("status_reason", sa.String()),
    ("recorded_at", sa.DateTime(timezone=True)),
    ("sender_id", sa.String()),
)
OLD_BENEFITS = _old_table(
    "benefits",
    ("subject_key", sa.String()),
    ("enrolment_key", sa.String()),
    ("benefit_key", sa.String()),
    ("benefit_type", sa.String()),
    ("benefit_date", sa.Date()),
    ("amount", sa.String()),
    ("currency", sa.String()),
    ("period_start", sa.Date()),
    ("period_end", sa.Date()),
    ("document", _JSON),
)


def _address(region: str, district: str) -> dict[str, str]:
    return {"address_line_1": "1 Road", "region_code": region, "sub_region_code": district}


def _person(key: str, name: str, **more: Any) -> dict[str, Any]:
    address = more.pop("address", None)
    demographic: dict[str, Any] = {"name": {"given_name": name, "surname": "Old"}}
    if address is not None:
        demographic["address"] = [address]
    row = {
        "subject_key": key,
        "kind": "person",
        "given_name": name,
        "surname": "Old",
        "sex": "female",
        "birth_date": date(1980, 1, 1),
        "death_date": None,
        "group_type": None,
        "group_size": None,
        "poverty_score": None,
        "document": {"demographic_info": demographic},
        "content_hash": f"h-{key}",
        "created_at": AT,
        "updated_at": AT,
    }
    row.update(more)
    return row


def _enrolment(subject: str, programme: str, status: str, **more: Any) -> dict[str, Any]:
    row = {
        "subject_key": subject,
        "enrolment_key": f"{subject}|{programme}",
        "programme_identifier": programme,
        "enrolment_status": status,
        "enrolment_date": date(2024, 1, 15),
        "status_change_date": None,
        "status_reason": None,
        "beneficiary_programme_id": None,
        "sender_id": "SP-OLD",
        "content_hash": f"h-{subject}-{programme}",
        "updated_at": AT,
    }
    row.update(more)
    return row


def _history(enrolment: dict[str, Any], n: int, status: str, day: date) -> dict[str, Any]:
    return {
        "subject_key": enrolment["subject_key"],
        "change_id": f"{n:020d}-old",
        "enrolment_key": enrolment["enrolment_key"],
        "enrolment_status": status,
        "status_change_date": day,
        "status_reason": None,
        "recorded_at": AT.replace(day=n),
        "sender_id": "SP-OLD",
    }


def _benefit(enrolment: dict[str, Any], key: str, amount: str | None) -> dict[str, Any]:
    return {
        "subject_key": enrolment["subject_key"],
        "enrolment_key": enrolment["enrolment_key"],
        "benefit_key": key,
        "benefit_type": "1",
        "benefit_date": date(2024, 2, 1),
        "amount": amount,
        "currency": "KES",
        "period_start": None,
        "period_end": None,
        "document": {"benefit_id": key, "benefit_value": {"amount": amount}},
    }


ANA = _person("p:NID:1", "Ana", address=_address("KE-01", "KE-0101"))
BEN = _person("p:NID:2", "Ben", death_date=date(2024, 3, 1))
CLEO = _person("p:NID:3", "Cleo")
MEMBER = _person("p:~hh:abc", "Dina")
HOUSEHOLD = {
    **_person("g:HH:9", "-"),
    "kind": "group",
    "given_name": None,
    "surname": None,
    "sex": None,
    "birth_date": None,
    "group_type": "2",
    "group_size": 1,
    "poverty_score": 0.4,
    "document": {"group_identifier": [], "address": [_address("KE-02", "KE-0203")]},
}
ANA_P1 = _enrolment(
    "p:NID:1", "P1", "4", status_change_date=date(2024, 5, 1), beneficiary_programme_id="R-1"
)
ANA_P2 = _enrolment("p:NID:1", "P2", "1")
BEN_P1 = _enrolment("p:NID:2", "P1", "1")
CLEO_P1 = _enrolment("p:NID:3", "P1", "2", status_change_date=date(2024, 4, 1))
HOUSEHOLD_P2 = _enrolment("g:HH:9", "P2", "1", enrolment_date=date(2024, 6, 1))


def _fill_as_the_previous_code(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(OLD_SUBJECTS.insert(), [ANA, BEN, CLEO, MEMBER, HOUSEHOLD])
        connection.execute(
            OLD_IDENTIFIERS.insert(),
            [
                {"subject_key": k, "identifier_type": "NID", "identifier_value": k[6:]}
                for k in ("p:NID:1", "p:NID:2", "p:NID:3")
            ]
            + [{"subject_key": "g:HH:9", "identifier_type": "HH", "identifier_value": "9"}],
        )
        connection.execute(
            OLD_MEMBERSHIPS.insert(), [{"subject_key": "g:HH:9", "member_key": "p:~hh:abc"}]
        )
        connection.execute(
            OLD_PROGRAMMES.insert(),
            [
                {
                    "programme_identifier": p,
                    "programme_name": f"Programme {p}",
                    "document": {"programme_identifier": p},
                    "updated_at": AT,
                }
                for p in ("P1", "P2")
            ],
        )
        connection.execute(OLD_ENROLMENTS.insert(), [ANA_P1, ANA_P2, BEN_P1, CLEO_P1, HOUSEHOLD_P2])
        connection.execute(
            OLD_HISTORY.insert(),
            [
                _history(ANA_P1, 1, "1", date(2024, 1, 15)),
                _history(ANA_P1, 2, "4", date(2024, 5, 1)),
                _history(ANA_P2, 3, "1", date(2024, 1, 15)),
                _history(BEN_P1, 7, "1", date(2024, 1, 15)),
                _history(HOUSEHOLD_P2, 8, "1", date(2024, 6, 1)),
                _history(CLEO_P1, 4, "1", date(2024, 1, 15)),
                _history(CLEO_P1, 5, "2", date(2024, 4, 1)),
                # a row whose enrolment is gone: its programme comes from its key
                {**_history(ANA_P2, 6, "1", date(2023, 1, 1)), "enrolment_key": "p:NID:1|P9"},
            ],
        )
        connection.execute(
            OLD_BENEFITS.insert(),
            [
                _benefit(ANA_P1, "b-ok", "50.00"),
                _benefit(ANA_P1, "b-space", " 12.5 "),
                _benefit(ANA_P1, "b-text", "fifty"),
                _benefit(ANA_P1, "b-none", None),
                _benefit(BEN_P1, "b-neg", "-7.25"),
            ],
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with pg_database(PG_DB) as pg_url:
        yield pg_url


@pytest.fixture
def upgraded(url: str) -> Iterator[SqlStore]:
    """A database filled at 0003 by the previous code's rows, then upgraded to head."""
    upgrade(url, "0003")
    _fill_as_the_previous_code(url)
    upgrade(url)
    store = SqlStore.from_url(url)
    yield store
    store.engine.dispose()


def test_upgraded_database_answers_as_before(upgraded: SqlStore) -> None:
    """If this fails, an upgrade loses or changes what the registry already held."""
    in_p1 = Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "P1")
    with upgraded.transaction() as tx:
        keys, total = tx.search_subjects(in_p1, kind="person", sort=(), offset=0, limit=10)
        assert (keys, total) == (["p:NID:1", "p:NID:2", "p:NID:3"], 3)
        assert tx.subject_exists(IdentifierIs("NID", "3"), kind="person")
        active = Comparison(Attribute.ENROLMENT_STATUS, Operator.EQ, "1")
        assert tx.subject_exists(And((IdentifierIs("HH", "9"), active)), kind="group")
        (ana, household) = tx.load_beneficiaries(["p:NID:1", "g:HH:9"])
        counts = tx.count_rows()
    assert ana.subject.given_name == "Ana"
    assert ana.subject.document == ANA["document"]
    assert {i.identifier_value for i in ana.subject.identifiers} == {"1"}
    assert household.subject.member_keys == ("p:~hh:abc",)
    (p1, _, p1_benefits), (p2, _, _) = ana.enrolments
    assert (p1.enrolment_key, p1.enrolment_status, p1.beneficiary_programme_id) == (
        "p:NID:1|P1",
        "4",
        "R-1",
    )
    assert p2.enrolment_key == "p:NID:1|P2"
    amounts = {b.benefit_key: b.amount for b in p1_benefits}
    assert amounts == {
        "b-ok": Decimal("50.00"),
        "b-space": Decimal("12.5"),
        "b-text": None,
        "b-none": None,
    }, "decimal text becomes a number; anything else NULL"
    assert {b.programme_identifier for b in p1_benefits} == {"P1"}
    assert (counts["subjects"], counts["enrolments"], counts["benefits"]) == (5, 5, 5)
    assert counts["enrolment_status_history"] == 8


def test_upgraded_database_gains_the_registry_facts(upgraded: SqlStore) -> None:
    """If this fails, subjects migrated from the previous schema lack their areas, dates, source
    records or death reports, or their enrolments cannot be ordered or searched as of a date."""
    with upgraded.transaction() as tx:
        states = tx.load_subject_states(["p:NID:1", "p:NID:2", "p:NID:3", "g:HH:9", "p:~hh:abc"])
        enrolments = tx.load_enrolments(["p:NID:1|P1", "p:NID:1|P2", "p:NID:3|P1"])
        history = tx.status_history("p:NID:1|P1")
        orphan = tx.status_history("p:NID:1|P9")
        by_region = tx.search_subjects(
            Comparison(Attribute.REGION_CODE, Operator.EQ, "KE-02"),
            kind=None,
            sort=(),
            offset=0,
            limit=10,
        )
        active_in_march = tx.search_subjects(
            Comparison(Attribute.ENROLMENT_STATUS, Operator.EQ, "1"),
            kind="person",
            sort=(),
            offset=0,
            limit=10,
            as_of=date(2024, 3, 15),
        )
    ana, ben, cleo = states["p:NID:1"].subject, states["p:NID:2"].subject, states["p:NID:3"].subject
    assert (ana.area_code, ana.area_levels) == ("KE-0101", ("KE-01", "KE-0101", None, None))
    assert states["g:HH:9"].subject.area_levels[:2] == ("KE-02", "KE-0203")
    assert cleo.area_code is None
    assert ana.last_updated == date(2024, 5, 1)
    assert states["p:~hh:abc"].subject.last_updated == date(2024, 6, 1), "from its household"
    assert ben.death_reported_by == "SP-OLD|P1|~p:NID:2"
    assert cleo.death_reported_by == "SP-OLD|P1|~p:NID:3", "Deceased status reports a death"
    assert ana.death_reported_by is None
    assert enrolments["p:NID:1|P1"].source_key == "SP-OLD|P1|R-1"
    assert enrolments["p:NID:1|P2"].source_key == "SP-OLD|P2|~p:NID:1"
    assert enrolments["p:NID:1|P1"].event_date == date(2024, 5, 1)
    assert enrolments["p:NID:1|P2"].event_date == date(2024, 1, 15)
    sources = states["p:NID:1"].sources
    assert [(s.source_key, s.programme_identifier) for s in sources] == [
        ("SP-OLD|P1|R-1", "P1"),
        ("SP-OLD|P2|~p:NID:1", "P2"),
    ]
    assert sources[0].subject.given_name == "Ana"
    assert sources[0].subject.area_code == "KE-0101"
    assert sources[0].subject.area_levels == ("KE-01", "KE-0101", None, None)
    assert sources[0].beneficiary_programme_id == "R-1"
    assert states["p:~hh:abc"].sources == (), "members had no source of their own"
    assert [(h.enrolment_status, h.event_date, h.applied) for h in history] == [
        ("1", date(2024, 1, 15), True),
        ("4", date(2024, 5, 1), True),
    ]
    assert {h.programme_identifier for h in history} == {"P1"}
    assert history[0].enrolment_date == date(2024, 1, 15)
    assert [h.programme_identifier for h in orphan] == ["P9"]
    assert by_region == (["g:HH:9"], 1)
    assert active_in_march == (["p:NID:1", "p:NID:2", "p:NID:3"], 3), "Cleo died in April"


def test_upgraded_database_takes_new_writes(upgraded: SqlStore) -> None:
    """If this fails, the first batch after an upgrade fails on a migrated subject (a second
    enrolment in one programme, a new identifier link)."""
    duplicate = registry_enrolment("p:NID:1", "P1", record="R-2")
    with upgraded.transaction() as tx:
        state = tx.load_subject_states(["p:NID:1"])["p:NID:1"]
        tx.write_registry(registry_write_of(state.subject, enrolments=(duplicate,)))
        tx.write_registry(RegistryWrite(identifiers=[("p:NID:1", IdentifierRecord("BRN", "7"))]))
        found = tx.load_enrolments([duplicate.enrolment_key])
        linked = tx.subjects_by_identifiers([IdentifierRecord("BRN", "7")])
    assert found == {duplicate.enrolment_key: duplicate}
    assert linked == {IdentifierRecord("BRN", "7"): ("p:NID:1",)}


def test_migration_0004_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    """If this fails, rolling back the registry model release breaks the database."""
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url, "0003")
    _fill_as_the_previous_code(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "0003")
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT benefit_key, amount FROM benefits"))
        amounts: dict[str, Any] = dict(stored.all())
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert "source_records" not in tables
    assert amounts["b-ok"] is not None
    assert Decimal(amounts["b-ok"]) == Decimal("50")
    upgrade(url)
    store = SqlStore.from_url(url)
    with store.transaction() as tx:
        assert tx.count_rows()["source_records"] == 5
    store.engine.dispose()
