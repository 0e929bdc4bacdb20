"""Two batches whose scopes share a household keep the coverage rollups on PostgreSQL at the
same time: the second waits for the first, both commit, and the rollups equal a rebuild."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ibr_mock_data import small_population
from ibr_service.analytics.rollups import rebuild_rollups, update_rollups
from ibr_service.store_sql import SqlStore, upgrade

from ..api.conftest import pg_database
from .test_rollups import (
    Clock,
    assert_rollups_equal_ad_hoc,
    registry,
    send,
    stored_rollups,
)

pytestmark = pytest.mark.postgres
LATER = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
_HOUSEMATES = """
SELECT m.subject_key, e.programme_identifier, e.subject_key AS person FROM memberships m
JOIN enrolments e ON e.subject_key = m.member_key AND e.enrolment_status = '1'
ORDER BY m.subject_key, e.programme_identifier, e.subject_key
"""
_LOCK_WAITS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@pytest.fixture
def store() -> Iterator[SqlStore]:
    with pg_database("ibr_test_rollups") as url:
        upgrade(url)
        clock = Clock()
        store, core = registry(url, clock)
        send(core, small_population(seed=31, people=400).beneficiaries)
        rebuild_rollups(store.engine, clock.now.date(), clock.now)
        yield store
        store.engine.dispose()


def two_housemates(engine: Engine) -> tuple[str, str]:
    """Two people of one household enrolled in the same programme."""
    with engine.connect() as connection:
        rows = connection.execute(sa.text(_HOUSEMATES)).all()
    together: dict[tuple[str, str], set[str]] = {}
    for household, programme, person in rows:
        together.setdefault((household, programme), set()).add(person)
    pairs = [sorted(people)[:2] for people in together.values() if len(people) >= 2]
    assert pairs, "the mock population has no household with two members in one programme"
    return pairs[0][0], pairs[0][1]


def move_and_keep_rollups(connection: Connection, person: str) -> None:
    """What a batch does: write (the person moves into the same new cell as their housemate
    will: area, sex and age band), then recompute the rollups in its transaction."""
    connection.execute(
        sa.text(
            "UPDATE subjects SET area_level_1 = 'KE-99', area_level_2 = 'KE-9901', "
            "area_level_3 = NULL, area_level_4 = NULL, sex = 'female', "
            "birth_date = '1990-03-01', updated_at = :now WHERE subject_key = :person"
        ),
        {"now": LATER, "person": person},
    )
    connection.execute(
        sa.text("UPDATE enrolments SET updated_at = :now WHERE subject_key = :person"),
        {"now": LATER, "person": person},
    )
    update_rollups(connection, [person], LATER)


def in_thread(work: Callable[[], None], failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_batches_sharing_a_household_both_commit_and_the_rollups_equal_a_rebuild(
    store: SqlStore,
) -> None:
    engine = store.engine
    first, second = two_housemates(engine)
    first_computed, second_done, may_commit = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    failures: list[BaseException] = []

    def first_batch() -> None:
        with engine.begin() as connection:
            move_and_keep_rollups(connection, first)
            first_computed.set()
            may_commit.wait()

    def second_batch() -> None:
        first_computed.wait()
        try:
            with engine.begin() as connection:
                move_and_keep_rollups(connection, second)
        finally:
            second_done.set()

    threads = [in_thread(first_batch, failures), in_thread(second_batch, failures)]
    first_computed.wait()
    while not second_done.is_set():  # until the second batch waits on a lock, or is done
        with engine.connect() as watcher:  # a transaction sees one snapshot of the activity
            if watcher.execute(sa.text(_LOCK_WAITS)).scalar():
                break
        second_done.wait(0.05)
    may_commit.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert_rollups_equal_ad_hoc(store, LATER.date())
    kept = stored_rollups(store)
    rebuild_rollups(engine, LATER.date(), LATER)
    pd.testing.assert_frame_equal(kept, stored_rollups(store))
