"""The merge decision folds the items of one batch in order, on the row and the COPY paths.

A batch may hold two registrations of one person in one programme (an SP-MIS's own duplicate).
Each item is compared with the state the previous one left; a batch that ends where the store
already is writes nothing. Runs on SQLite (row path) and PostgreSQL `ibr_test_fix` (row path and
COPY path, forced with `bulk_threshold=1`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from ibr_service.core import Caller
from ibr_service.core.ingest import updates_from_beneficiary
from ibr_service.core.records import ApplyOutcome, EnrolmentUpdate
from ibr_service.core.samples import person_beneficiary
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.rows import decide

PG_DB = "ibr_test_fix"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CALLER = Caller(sender_id="SP-System")
KEY = "p:NID:500|DCI001"


@pytest.fixture(scope="module")
def pg_url() -> str:
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{PG_DB}"')
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
    upgrade(url)
    return url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql-rows", marks=pytest.mark.postgres),
        pytest.param("postgresql-copy", marks=pytest.mark.postgres),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ibr.db'}"
        upgrade(url)
        sql_store = SqlStore.from_url(url)
    else:
        threshold = 1 if request.param == "postgresql-copy" else 1_000_000
        sql_store = SqlStore.from_url(request.getfixturevalue("pg_url"), bulk_threshold=threshold)
        with sql_store.engine.begin() as conn:
            names = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename<>'alembic_version'"
                )
            ).scalars()
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)))
    yield sql_store
    sql_store.engine.dispose()


def registration(record_id: str, status: str, *, surname: str = "Okafor", day: int = 1) -> Any:
    """One registration of person NID 500 in DCI001 under the SP-MIS's record `record_id`."""
    beneficiary = person_beneficiary(
        "500", status=status, surname=surname, status_change_date=f"2024-06-{day:02d}"
    )
    beneficiary["programme_identifier"][0]["beneficiary_programme_id"] = record_id
    return beneficiary


def updates(beneficiaries: Sequence[Any], minute: int = 0) -> list[EnrolmentUpdate]:
    now = datetime(2024, 6, 1, 10, minute, tzinfo=UTC)
    return [
        u
        for i, b in enumerate(beneficiaries)
        for u in updates_from_beneficiary(
            b, caller=CALLER, now=now, national_id_types=("NID",), field=f"b[{i}]"
        )
    ]


def apply(store: SqlStore, batch: list[EnrolmentUpdate]) -> list[ApplyOutcome]:
    with store.transaction() as tx:
        return tx.apply_enrolment_updates(batch)


def history(store: SqlStore) -> list[tuple[str, str | None]]:
    with store.transaction() as tx:
        return [
            (
                h.enrolment_status,
                None if h.status_change_date is None else str(h.status_change_date),
            )
            for h in tx.status_history(KEY)
        ]


def rows(store: SqlStore) -> dict[str, int]:
    with store.transaction() as tx:
        return tx.count_rows()


def test_two_registrations_in_one_batch_write_their_history_in_order(store: SqlStore) -> None:
    """If this fails, a batch holding a creation and a status change of one enrolment keeps
    only the last status in the history (or keeps them out of order)."""
    batch = updates([registration("R-1", "1", day=1), registration("R-2", "4", day=5)])
    outcomes = apply(store, batch)
    assert [(o.result, o.previous_status, o.new_status) for o in outcomes] == [
        ("created", None, "1"),
        ("updated", "1", "4"),
    ]
    assert history(store) == [("1", "2024-06-01"), ("4", "2024-06-05")]
    with store.transaction() as tx:
        [stored] = tx.load_beneficiaries(["p:NID:500"])
    [(enrolment, _, _)] = stored.enrolments
    assert (enrolment.beneficiary_programme_id, enrolment.enrolment_status) == ("R-2", "4")


def test_identical_resend_of_such_a_batch_writes_nothing(store: SqlStore) -> None:
    """If this fails, re-sending a batch with two registrations of one person in one programme
    writes a status-history row for a change that never happened (what audits and PRS.IBR.03
    notifications read), or reports the re-send as a change."""
    batch = [registration("R-1", "1", day=1), registration("R-2", "4", day=5)]
    apply(store, updates(batch))
    before, history_before = rows(store), history(store)
    outcomes = apply(store, updates(batch, minute=30))
    assert [o.result for o in outcomes] == ["unchanged", "unchanged"]
    assert rows(store) == before
    assert history(store) == history_before


def test_a_genuine_change_in_one_batch_writes_exactly_its_history(store: SqlStore) -> None:
    """If this fails, a later batch that changes the enrolment and then changes it again loses
    a step of the history, or an earlier item's member document overwrites the later one."""
    apply(store, updates([registration("R-1", "1", day=1)]))
    batch = [
        registration("R-1", "1", day=1),  # as stored: unchanged
        registration("R-1", "4", day=8, surname="Okafor-Ade"),
        registration("R-1", "1", day=20, surname="Okafor-Bello"),
    ]
    outcomes = apply(store, updates(batch, minute=30))
    assert [(o.result, o.previous_status, o.new_status) for o in outcomes] == [
        ("unchanged", "1", "1"),
        ("updated", "1", "4"),
        ("updated", "4", "1"),
    ]
    assert history(store) == [("1", "2024-06-01"), ("4", "2024-06-08"), ("1", "2024-06-20")]
    with store.transaction() as tx:
        [stored] = tx.load_beneficiaries(["p:NID:500"])
    assert stored.subject.surname == "Okafor-Bello"


def test_decide_compares_each_item_with_the_state_the_previous_one_left() -> None:
    """If this fails, the merge decision compares every item with the state before the batch,
    so a repeated item inside one batch is written (and counted) twice."""
    a, b = updates([registration("R-1", "1"), registration("R-2", "4")])
    outcomes, changed = decide([a, a, b, b], {})
    assert [o.result for o in outcomes] == ["created", "unchanged", "updated", "unchanged"]
    assert changed == [a, b]
    stored = {KEY: (b.enrolment.content_hash, "4")}
    outcomes, changed = decide([a, b], stored)
    assert [o.result for o in outcomes] == ["unchanged", "unchanged"]
    assert changed == []
    outcomes, changed = decide([b, a], stored)
    assert [(o.result, o.previous_status) for o in outcomes] == [
        ("unchanged", "4"),
        ("updated", "4"),
    ]
    assert changed == [a]
