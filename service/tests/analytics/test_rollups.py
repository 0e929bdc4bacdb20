"""Coverage rollups kept on ingest equal the ad hoc counts - after a mock population, after its
follow-ups (deaths, moves, corrections), after exits, moves, sex and birth date corrections in
later batches, and once the age bands have moved - on SQLite and PostgreSQL; batch by batch they
equal a rebuild from scratch."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from ibr_mock_data import small_population
from ibr_service.analytics.coverage import enrolment_snapshot
from ibr_service.analytics.coverage_sql import snapshot_in_database
from ibr_service.analytics.of_caller import snapshot_of_reader
from ibr_service.analytics.rollups import (
    RollupUpdate,
    advance_rollups,
    coverage_snapshot,
    read_rollups,
    rebuild_rollups,
)
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.cli import app
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.caller import ReadScope
from ibr_service.core.samples import enrollment_message
from ibr_service.store_sql import SqlStore, upgrade

from ..api.conftest import pg_database

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SP = Caller(sender_id="SP-MIS", scopes=frozenset({"ibr.write", "ibr.search"}))
TRUTH = {
    "cross_programme_overlap": 0.05,
    "area_move": 0.05,
    "death_reported_elsewhere": 0.05,
    "conflicting_demographics": 0.03,
    "benefit_correction": 0.03,
    "stale_update": 0.03,
}

_SENT = itertools.count()


def next_id() -> str:
    """A fresh transaction id (a repeated one would be answered from the first, unapplied)."""
    return f"T-{next(_SENT)}"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ibr.db'}"
        upgrade(url)
        yield url
        return
    with pg_database("ibr_test_rollups") as url:
        upgrade(url)
        yield url


def registry(url: str, clock: Clock) -> tuple[SqlStore, IbrCore]:
    store = SqlStore.from_url(url, bulk_threshold=50)
    core = IbrCore(
        store, clock=clock, settings=CoreSettings(receiver_id="IBR"), batch_checks=[RollupUpdate()]
    )
    return store, core


def rolled_up_registry(folder: Path) -> tuple[SqlStore, IbrCore, Clock]:
    """A migrated SQLite registry in ``folder`` whose (empty) rollups are built."""
    url = f"sqlite:///{folder / 'ibr.db'}"
    upgrade(url)
    clock = Clock()
    store, core = registry(url, clock)
    rebuild_rollups(store.engine, clock.now.date(), clock.now)
    return store, core, clock


def send(
    core: IbrCore, records: list[dict[str, Any]], size: int = 200, accept: float = 0.9
) -> None:
    """Send in batches; most items are accepted (a deceased enrolment may refuse a change)."""
    accepted = 0
    for start in range(0, len(records), size):
        batch = records[start : start + size]
        answer = core.enrollment_updates(enrollment_message(batch, next_id()), caller=SP)
        accepted += sum(item["status"] == "succ" for item in answer["enrolled_response"])
    assert accepted >= accept * len(records)


def assert_rollups_equal_ad_hoc(store: SqlStore, on: dt.date, *, pandas_too: bool = False) -> int:
    """Every area level: rollups == the SQL count (and the count on frames); the cells."""
    cells = 0
    frames = frames_from_engine(store.engine) if pandas_too else None
    for level in (1, 2, 3, 4):
        fast = read_rollups(store.engine, level, on)
        assert fast is not None, "the rollups are not fresh"
        slow = snapshot_in_database(store.engine, level, on)
        pd.testing.assert_frame_equal(fast, slow)
        if frames is not None:
            on_frames = enrolment_snapshot(frames, level, on)
            on_frames = on_frames.sort_values(list(on_frames.columns[:4]), ignore_index=True)
            pd.testing.assert_frame_equal(fast, on_frames, check_dtype=False)
        cells += len(fast)
    return cells


def stored_rollups(store: SqlStore) -> pd.DataFrame:
    query = (
        "SELECT programme, area_level, area, sex, age_band, beneficiaries, households "
        "FROM coverage_rollups WHERE beneficiaries > 0 OR households > 0 "
        "ORDER BY programme, area_level, area, sex, age_band"
    )
    with store.engine.connect() as connection:
        return pd.read_sql(sa.text(query), connection)


def assert_incremental_equals_rebuild(store: SqlStore, clock: Clock) -> None:
    kept = stored_rollups(store)
    rebuild_rollups(store.engine, clock.now.date(), clock.now)
    pd.testing.assert_frame_equal(kept, stored_rollups(store))


def later(record: dict[str, Any], rng: random.Random, day: str) -> dict[str, Any]:
    """A later report of ``record``: an exit, a return, a move, a sex or birth date correction."""
    out = copy.deepcopy(record)
    enrolment = out["programme_identifier"][0]
    change = rng.choice(["exit", "return", "move", "sex", "birth"])
    person = out.get("member", {}).get("demographic_info")
    if change in ("move", "sex", "birth") and person is None:
        change = "exit"
    enrolment["status_change_date"] = day
    if change == "exit":
        enrolment["enrolment_status"], enrolment["status_reason"] = "3", "graduated"
    elif change == "return":
        enrolment["enrolment_status"], enrolment["status_reason"] = "1", "re-enrolled"
    elif change == "move":
        address = person["address"][0]
        region = rng.choice(["KE-01", "KE-02", "KE-05"])
        address["region_code"], address["sub_region_code"] = region, f"{region}01"
    elif change == "sex":
        person["sex"] = "male" if person.get("sex") == "female" else "female"
    else:
        year, month, day = rng.randint(1940, 2024), rng.randint(1, 9), rng.randint(10, 19)
        person["birth_date"] = f"{year}-0{month}-{day}"
    return out


def test_rollups_follow_every_batch_and_equal_ad_hoc_counts(database: str) -> None:
    pop = small_population(seed=11, people=1500, truth=TRUTH)
    clock = Clock()
    store, core = registry(database, clock)
    assert read_rollups(store.engine, 1, clock.now.date()) is None  # none before a rebuild
    assert rebuild_rollups(store.engine, clock.now.date(), clock.now) == 0
    send(core, pop.beneficiaries)
    cells = assert_rollups_equal_ad_hoc(store, clock.now.date(), pandas_too=True)
    assert cells > 50

    clock.now += dt.timedelta(hours=1)
    follow_ups = [u["beneficiary"] for u in pop.updates]
    assert len(follow_ups) >= 20
    for update in follow_ups:  # in push order, one by one: a later one may depend on an earlier
        core.enrollment_updates(enrollment_message([update], next_id()), caller=SP)
    assert_rollups_equal_ad_hoc(store, clock.now.date())

    rng = random.Random(5)
    changed = [later(r, rng, "2026-01-04") for r in rng.sample(pop.beneficiaries, 300)]
    send(core, changed, size=100)
    assert_rollups_equal_ad_hoc(store, clock.now.date(), pandas_too=True)
    assert_incremental_equals_rebuild(store, clock)

    clock.now += dt.timedelta(days=400)  # bands moved: the next batch moves the rollups first
    send(core, [later(r, rng, "2027-02-01") for r in rng.sample(pop.beneficiaries, 20)])
    assert read_rollups(store.engine, 1, START.date()) is None  # not as of the old day any more
    assert_rollups_equal_ad_hoc(store, clock.now.date(), pandas_too=True)
    assert_incremental_equals_rebuild(store, clock)
    store.engine.dispose()


def test_a_write_without_the_rollups_makes_them_stale_and_reports_count_ad_hoc(
    tmp_path: Path,
) -> None:
    records = small_population(seed=12, people=600).beneficiaries
    half = len(records) // 2
    store, core, clock = rolled_up_registry(tmp_path)
    send(core, records[:half])
    assert coverage_snapshot(store.engine, 1, clock.now.date())[1] == "rollups"
    clock.now += dt.timedelta(minutes=5)
    bypass = IbrCore(store, clock=clock, settings=CoreSettings(receiver_id="IBR"))
    send(bypass, records[half:])
    snapshot, source = coverage_snapshot(store.engine, 1, clock.now.date())
    assert source == "ad hoc"
    pd.testing.assert_frame_equal(snapshot, snapshot_in_database(store.engine, 1, clock.now.date()))
    rebuild_rollups(store.engine, clock.now.date(), clock.now)
    assert coverage_snapshot(store.engine, 1, clock.now.date())[1] == "rollups"
    assert coverage_snapshot(store.engine, 1, clock.now.date() + dt.timedelta(days=1))[1] == (
        "ad hoc"
    )
    store.engine.dispose()


def test_moving_the_bands_recomputes_only_who_changed_band_and_equals_ad_hoc(
    tmp_path: Path,
) -> None:
    store, core, clock = rolled_up_registry(tmp_path)
    send(core, small_population(seed=13, people=800).beneficiaries)
    day = clock.now.date()
    for step in (1, 30, 200, 365, 3000):
        day += dt.timedelta(days=step)
        assert advance_rollups(store.engine, day, clock.now)
        assert_rollups_equal_ad_hoc(store, day)
    store.engine.dispose()


SMALL = small_population(seed=21, people=250)


@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example ingests a registry
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.tuples(
            st.lists(st.integers(0, len(SMALL.beneficiaries) - 1), min_size=1, max_size=40),
            st.integers(0, 2**16),
            st.integers(0, 90),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_sequence_of_batches_keeps_rollups_equal_to_a_rebuild(
    tmp_path_factory: pytest.TempPathFactory, batches: list[tuple[list[int], int, int]]
) -> None:
    store, core, clock = rolled_up_registry(tmp_path_factory.mktemp("seq"))
    send(core, SMALL.beneficiaries[: len(SMALL.beneficiaries) // 2])
    for number, (picks, seed, days) in enumerate(batches):
        rng = random.Random(seed)
        clock.now += dt.timedelta(days=days, minutes=1)
        day = (START + dt.timedelta(days=30 * (number + 1))).date().isoformat()
        chosen = list(dict.fromkeys(picks))
        send(core, [later(SMALL.beneficiaries[i], rng, day) for i in chosen], accept=0)
    # A day whose batches changed nothing leaves the bands where they were: the daily refresh.
    advance_rollups(store.engine, clock.now.date(), clock.now)
    assert_rollups_equal_ad_hoc(store, clock.now.date())
    assert_incremental_equals_rebuild(store, clock)
    store.engine.dispose()


def test_the_commands_rebuild_refresh_and_read_the_rollups(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    clock = Clock()
    clock.now = datetime.now(UTC)
    store, core = registry(url, clock)
    send(core, small_population(seed=14, people=600).beneficiaries)
    env = {"IBR_DATABASE_URL": url, "COLUMNS": "200"}

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["report", *args], env=env)

    refused = run("refresh-rollups")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "error: there are no coverage rollups yet: run `ibr report rebuild-rollups`"
    )
    assert json.loads(run("snapshot", "--k", "1").stdout)["summary"]["source"] == "ad hoc"
    built = run("rebuild-rollups")
    assert built.exit_code == 0, built.stderr
    assert "contributions at area level 4 of 4" in built.stderr
    answer = json.loads(run("snapshot", "--k", "1", "--level", "2").stdout)
    assert answer["summary"]["source"] == "rollups"
    fast = read_rollups(store.engine, 2, clock.now.date())
    assert fast is not None
    cells = [r for r in answer["tables"]["snapshot"] if "Total" not in r.values()]
    assert sum(r["beneficiaries"] for r in cells) == fast["beneficiaries"].sum()
    later_day = (clock.now.date() + dt.timedelta(days=40)).isoformat()
    assert run("refresh-rollups", "--as-of", later_day).exit_code == 0
    moved = json.loads(run("snapshot", "--as-of", later_day).stdout)
    assert moved["summary"]["source"] == "rollups"
    bad = run("rebuild-rollups", "--as-of", "yesterday")
    assert bad.exit_code == 2
    assert "\n" not in bad.stderr.strip()
    store.engine.dispose()


def test_a_reader_with_a_read_scope_counts_its_own_rows_and_an_unrestricted_one_reads_rollups(
    tmp_path: Path,
) -> None:
    store, core, clock = rolled_up_registry(tmp_path)
    send(core, small_population(seed=15, people=400).beneficiaries)
    day = clock.now.date()
    everything, source = snapshot_of_reader(store.engine, ReadScope(), 1, day)
    assert source == "rollups"
    programme = str(everything["programme"].iloc[0])
    scope = ReadScope(programmes=frozenset({programme}))
    own, source = snapshot_of_reader(store.engine, scope, 1, day)
    assert source == "ad hoc"
    assert set(own["programme"]) == {programme}
    mine = everything[everything["programme"] == programme]
    assert own["beneficiaries"].sum() == mine["beneficiaries"].sum()
    store.engine.dispose()
