"""Analytics on the registry itself: mock records ingested through the core into a migrated SQL
store (SQLite, and PostgreSQL in a database of its own per run), then read back as frames."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ibr_service.analytics.cases import (
    check_batch,
    decide_case,
    list_cases,
    overlap_rows,
    recompute_overlaps,
)
from ibr_service.analytics.coverage import enrolment_snapshot
from ibr_service.analytics.coverage_sql import snapshot_in_database
from ibr_service.analytics.errors import AnalyticsError
from ibr_service.analytics.frames import RegistryFrames
from ibr_service.analytics.from_records import frames_from_records
from ibr_service.analytics.overlaps import detect_overlaps, overlap_pairs
from ibr_service.analytics.overlaps_sql import detect_overlaps_in_database
from ibr_service.analytics.overlaps_touched import overlaps_of_touched
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.analytics.sql_source import frames_for_subjects, frames_from_engine
from ibr_service.cli import app
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.audit import audit_verify
from ibr_service.core.samples import enrollment_message
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import Population, population

SP = Caller(sender_id="SP-MIS", scopes=frozenset({"ibr.write", "ibr.search"}))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def small() -> Population:
    return population(5, 1500)


def ingest(store: SqlStore, pop: Population) -> None:
    core = IbrCore(store, settings=CoreSettings(receiver_id="IBR"))
    for start in range(0, len(pop.records), 250):
        batch = pop.records[start : start + 250]
        answer = core.enrollment_updates(enrollment_message(batch, f"T-{start}"), caller=SP)
        statuses = [item["status"] for item in answer["enrolled_response"]]
        assert set(statuses) == {"succ"}, answer


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store(
    request: pytest.FixtureRequest, small: Population, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'ibr.db'}"
        name = None
    else:
        name = f"ibr_test_analytics_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    sql_store = SqlStore.from_url(url)
    ingest(sql_store, small)
    yield sql_store
    sql_store.engine.dispose()
    if name is not None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_overlaps_read_from_the_registry_match_the_truth(
    store: SqlStore, small: Population
) -> None:
    frames = frames_from_engine(store.engine)
    expected = truth_pairs(small.truth, "cross_programme_overlap")
    assert len(expected) >= 5
    assert overlap_pairs(detect_overlaps(frames, load_rules())) == expected


def test_the_registry_and_the_records_give_the_same_subjects_and_enrolments(
    store: SqlStore, small: Population
) -> None:
    from_store = frames_from_engine(store.engine)
    from_records = frames_from_records(small.records)

    def records(frames: RegistryFrames) -> set[tuple[str, str]]:
        columns = ["programme_identifier", "beneficiary_programme_id"]
        return set(frames.enrolments[columns].itertuples(index=False, name=None))

    assert records(from_store) == records(from_records)
    assert from_store.benefits["amount"].sum() == pytest.approx(
        from_records.benefits["amount"].sum()
    )


def test_read_scope_leaves_out_other_programmes_and_their_people(store: SqlStore) -> None:
    frames = frames_from_engine(store.engine, programmes={"OAP"})
    assert set(frames.enrolments["programme_identifier"]) == {"OAP"}
    assert set(frames.subjects["subject_key"]) == set(frames.enrolments["subject_key"])


def test_cases_are_recorded_once_decided_and_audited(store: SqlStore) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM overlap_cases"))
    rules = load_rules()
    first = recompute_overlaps(store, rules, NOW)
    assert first
    assert recompute_overlaps(store, rules, NOW) == [], "a recompute finds nothing new"
    case_id = first[0]
    decided = decide_case(
        store, case_id, "exempted", actor="analyst-1", now=NOW, note="court order"
    )
    assert decided["status"] == "exempted"
    recompute_overlaps(store, rules, NOW)
    cases = list_cases(store).set_index("case_id")
    assert cases.loc[case_id, "status"] == "exempted", "a recompute keeps the decision"
    assert cases.loc[case_id, "decided_by"] == "analyst-1"
    assert (cases.drop(case_id)["status"] == "open").all()
    with store.transaction() as tx:
        last = tx.last_audit_entry()
    assert last is not None
    assert (last.action, last.subject, last.actor) == (
        "overlap_case.exempted",
        case_id,
        "analyst-1",
    )
    assert "court order" not in str(last.detail)
    assert audit_verify(store).ok
    with pytest.raises(AnalyticsError, match="decision must be one of"):
        decide_case(store, case_id, "maybe", actor="analyst-1", now=NOW)
    with pytest.raises(AnalyticsError, match="no overlap case"):
        decide_case(store, "OV-nope", "confirmed", actor="analyst-1", now=NOW)


def test_a_batch_check_reports_only_the_conflicts_it_brings(store: SqlStore) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM overlap_cases"))
    rules = load_rules()
    frames = frames_from_engine(store.engine)
    full = detect_overlaps(frames, rules)
    one = full.iloc[0]
    new = check_batch(store, [one["identity_key"]], rules, NOW, frames)
    assert one["case_id"] in new
    assert check_batch(store, [one["identity_key"]], rules, NOW, frames) == []
    scoped = list_cases(store, programmes={one["programme_a"]})
    assert scoped.empty, "a case between two programmes needs both in the read scope"


def test_the_command_line_records_and_decides_cases(
    store: SqlStore, small: Population, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM overlap_cases"))
    monkeypatch.setenv("IBR_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    result = runner.invoke(app, ["report", "overlaps", "--record"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    new = report["summary"]["new_cases"]
    assert len(new) == len(truth_pairs(small.truth, "cross_programme_overlap"))
    again = json.loads(runner.invoke(app, ["report", "overlaps", "--record"]).stdout)
    assert again["summary"]["new_cases"] == []
    args = ["report", "decide", new[0], "--decision", "confirmed", "--actor", "analyst-2"]
    decided = runner.invoke(app, args)
    assert decided.exit_code == 0, decided.stderr
    assert decided.stdout.strip() == f"{new[0]}: confirmed by analyst-2"
    wrong = runner.invoke(
        app, ["report", "decide", "OV-x", "--decision", "confirmed", "--actor", "a"]
    )
    assert wrong.exit_code == 2
    assert wrong.stderr == "error: no overlap case 'OV-x'\n"


def test_the_batch_check_reading_only_its_subjects_agrees_with_the_full_recompute(
    store: SqlStore,
) -> None:
    rules = load_rules()
    full = detect_overlaps(frames_from_engine(store.engine), rules)
    keys = sorted(set(frames_from_engine(store.engine).enrolments["subject_key"]))
    seen: set[str] = set()
    for start in range(0, len(keys), 150):
        batch = keys[start : start + 150]
        found = detect_overlaps(frames_for_subjects(store.engine, batch), rules, subject_keys=batch)
        assert set(found["case_id"]) <= set(full["case_id"])
        seen |= set(found["case_id"])
    assert seen == set(full["case_id"])


@pytest.mark.parametrize("statuses", ["any", "open"])
def test_the_recompute_in_the_database_equals_the_one_on_frames(
    store: SqlStore, statuses: str, tmp_path: Path
) -> None:
    from ibr_service.analytics.rules import DEFAULT_RULES_FILE

    rules_file = tmp_path / "rules.yaml"
    text_ = DEFAULT_RULES_FILE.read_text().replace("statuses: any", f"statuses: {statuses}")
    rules_file.write_text(text_ + "  - programmes: [CHG, CCT]\n    unit: household\n")
    rules = load_rules(rules_file)
    on_frames = detect_overlaps(frames_from_engine(store.engine), rules)
    in_database = detect_overlaps_in_database(store.engine, rules)
    assert not on_frames.empty
    pd.testing.assert_frame_equal(in_database, on_frames, check_dtype=False)


@pytest.mark.parametrize("level", [1, 2])
def test_the_snapshot_counted_in_the_database_equals_the_one_on_frames(
    store: SqlStore, level: int
) -> None:
    on = dt.date(2025, 6, 30)
    frames = frames_from_engine(store.engine)
    keys = ["programme", "area", "sex", "age_band"]
    expected = enrolment_snapshot(frames, level, on).sort_values(keys, ignore_index=True)
    counted = snapshot_in_database(store.engine, level, on)
    assert len(counted) > 20
    pd.testing.assert_frame_equal(counted, expected, check_dtype=False)


RULE_VARIANTS = {
    "shipped": ("version: 1", "version: 1"),
    "open only": ("statuses: any", "statuses: open"),
    "exclude by default": ("default: combine", "default: exclude"),
}


@pytest.mark.parametrize("variant", sorted(RULE_VARIANTS))
def test_the_one_query_batch_check_finds_what_frames_find(
    store: SqlStore, variant: str, tmp_path: Path
) -> None:
    text_ = load_rules_text(RULE_VARIANTS[variant])
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(text_)
    rules = load_rules(rules_file)
    frames = frames_from_engine(store.engine)
    full = detect_overlaps_in_database(store.engine, rules)
    keys = sorted(set(frames.enrolments["subject_key"]))
    seen: set[str] = set()
    with store.engine.connect() as connection:
        for start in range(0, len(keys), 400):
            batch = keys[start : start + 400]
            on_frames = overlap_rows(
                detect_overlaps(frames_for_subjects(connection, batch), rules, subject_keys=batch)
            )
            in_one_query = overlaps_of_touched(connection, rules, batch)
            assert in_one_query == on_frames
            seen |= {row["case_id"] for row in in_one_query}
    assert seen == set(full["case_id"])
    assert len(seen) > 0


def test_the_batch_check_of_enrolment_keys_checks_their_subjects(store: SqlStore) -> None:
    rules = load_rules()
    frames = frames_from_engine(store.engine)
    one = detect_overlaps(frames, rules).iloc[0]
    with store.engine.connect() as connection:
        found = overlaps_of_touched(connection, rules, [one["enrolment_key_b"]], "enrolments")
        assert one["case_id"] in {row["case_id"] for row in found}
        assert overlaps_of_touched(connection, rules, ["no-such-enrolment"], "enrolments") == []


def test_the_batch_check_puts_back_the_jit_setting_it_turns_off(store: SqlStore) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("JIT is a PostgreSQL setting")
    keys = sorted(set(frames_from_engine(store.engine).enrolments["subject_key"]))[:50]
    with store.engine.connect() as connection:
        connection.execute(text("SET jit = on"))
        overlaps_of_touched(connection, load_rules(), keys)
        assert connection.execute(text("SELECT current_setting('jit')")).scalar_one() == "on"


def load_rules_text(change: tuple[str, str]) -> str:
    from ibr_service.analytics.rules import DEFAULT_RULES_FILE

    text_ = DEFAULT_RULES_FILE.read_text()
    assert change[0] in text_
    return text_.replace(*change)
