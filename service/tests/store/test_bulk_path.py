"""The PostgreSQL COPY + merge path of `write_registry` stores what the executemany path stores.

Every registry contract check runs with `bulk_threshold=1`, so each of its writes takes the COPY
path (`store_sql/bulk.py`); `test_store_contract.py` runs the same checks on the row path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from ibr_service.core.store import Store
from ibr_service.core.store_contract import (
    REGISTRY_CONTRACT_CHECKS,
    check_areas_load_with_their_ancestors,
    check_delete_client,
    registry_benefit,
    registry_enrolment,
    registry_subject,
    registry_write_of,
)
from ibr_service.store_sql import SqlStore, bulk
from ibr_service.store_sql.bulk import merge_with_copy
from ibr_service.store_sql.rows import RegistryRows

from .conftest import _empty_pg

pytestmark = pytest.mark.postgres


@pytest.fixture
def copy_store(pg_migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    """A PostgreSQL store whose every write takes the COPY path (asserted at teardown)."""
    store = _empty_pg(pg_migrated)
    store.bulk_threshold = 1
    merges: list[int] = []

    def counted(connection: Any, batch: RegistryRows) -> None:
        merges.append(batch.count())
        merge_with_copy(connection, batch)

    monkeypatch.setattr(bulk, "merge_with_copy", counted)
    yield store
    store.engine.dispose()
    assert merges, "no write took the COPY path"


WRITING_CHECKS = [
    c
    for c in REGISTRY_CONTRACT_CHECKS
    if c not in (check_areas_load_with_their_ancestors, check_delete_client)
]
"""Every check whose rows go through write_registry (not areas, written by put_areas, nor
clients)."""


@pytest.mark.parametrize("check", WRITING_CHECKS, ids=[c.__name__ for c in WRITING_CHECKS])
def test_copy_path_meets_the_registry_contract(
    copy_store: SqlStore, check: Callable[[Store], None]
) -> None:
    """If this fails, a large batch on PostgreSQL stores something else than a small one."""
    check(copy_store)


def test_copy_path_keeps_duplicate_keys_of_one_write_once(copy_store: SqlStore) -> None:
    """If this fails, one write naming a key twice breaks the merge (`ON CONFLICT DO UPDATE`
    cannot touch a row twice in one statement) instead of keeping the last state."""
    e = registry_enrolment("p:NID:9", "P1")
    first = registry_benefit(e, "b", "50.00")
    last = registry_benefit(e, "b", "55.00")
    write = registry_write_of(registry_subject("p:NID:9"), enrolments=(e, e), benefits=[first])
    write.benefits.append(last)
    with copy_store.transaction() as tx:
        tx.write_registry(write)
        stored = tx.load_benefits([(e.enrolment_key, "b")])
        counts = tx.count_rows()
    assert stored[(e.enrolment_key, "b")].amount == Decimal("55.00")
    assert (counts["enrolments"], counts["enrolment_status_history"]) == (1, 2)


@pytest.mark.parametrize("check", WRITING_CHECKS, ids=[c.__name__ for c in WRITING_CHECKS])
def test_plain_copy_meeting_a_stored_key_falls_back_to_the_merge(
    copy_store: SqlStore, check: Callable[[Store], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a row written between the probe and the plain COPY (a concurrent batch)
    breaks the write or leaves another result than the upsert: here the probe always answers
    "nothing stored", so every write that updates a row meets a stored key."""
    monkeypatch.setattr(bulk, "_stored", lambda *_: set())
    check(copy_store)


def test_a_first_load_is_copied_without_staging(
    copy_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, rows with keys nothing stored yet go through a staging table and a merge
    (about twice the work of the COPY) instead of a plain COPY; a stored key still merges."""
    merged: list[str] = []
    original = bulk.merge_table

    def counted(connection: Any, table: Any, table_rows: Any, **kw: Any) -> None:
        merged.append(table.name)
        original(connection, table, table_rows, **kw)

    monkeypatch.setattr(bulk, "merge_table", counted)
    e = registry_enrolment("p:NID:8", "P1")
    write = registry_write_of(
        registry_subject("p:NID:8"), enrolments=(e,), benefits=[registry_benefit(e, "b", "5")]
    )
    with copy_store.transaction() as tx:
        tx.write_registry(write)
    assert merged == []
    again = registry_write_of(
        registry_subject("p:NID:8"), enrolments=(e,), benefits=[registry_benefit(e, "b", "6")]
    )
    with copy_store.transaction() as tx:
        tx.write_registry(again)
        stored = tx.load_benefits([(e.enrolment_key, "b")])
    assert {"subjects", "enrolments", "benefits"} <= set(merged)
    assert "enrolment_status_history" not in merged
    assert stored[(e.enrolment_key, "b")].amount == Decimal("6")


def test_only_the_rows_of_stored_keys_are_merged(
    copy_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, one stored subject in a large write sends every row of its tables through
    the staging table and the merge, instead of only the rows whose keys are stored."""
    merged: list[tuple[str, str]] = []
    original = bulk.merge_table

    def counted(connection: Any, table: Any, table_rows: Any, **kw: Any) -> None:
        merged.extend((table.name, row[bulk._leading_key(table)]) for row in table_rows)
        original(connection, table, table_rows, **kw)

    monkeypatch.setattr(bulk, "merge_table", counted)
    old = registry_enrolment("p:NID:7", "P1")
    with copy_store.transaction() as tx:
        tx.write_registry(
            registry_write_of(
                registry_subject("p:NID:7"),
                enrolments=(old,),
                benefits=[registry_benefit(old, "b", "5")],
            )
        )
    assert merged == []
    new = registry_enrolment("p:NID:6", "P1")
    write = registry_write_of(
        registry_subject("p:NID:7"),
        registry_subject("p:NID:6"),
        enrolments=(old, new),
        benefits=[registry_benefit(old, "b", "7"), registry_benefit(new, "b", "8")],
    )
    with copy_store.transaction() as tx:
        tx.write_registry(write)
        stored = tx.load_benefits([(old.enrolment_key, "b"), (new.enrolment_key, "b")])
        counts = tx.count_rows()
    assert {key for _, key in merged if key.startswith("p:")} == {"p:NID:7"}
    assert {"subjects", "enrolments", "benefits"} <= {name for name, _ in merged}
    assert stored[(old.enrolment_key, "b")].amount == Decimal("7")
    assert stored[(new.enrolment_key, "b")].amount == Decimal("8")
    assert (counts["subjects"], counts["enrolments"], counts["benefits"]) == (2, 2, 2)
