"""What a registry steward decides by hand: identity cases, splits, areas, follow-ups.

Core functions on SQLite and PostgreSQL, and the `ibr` commands that call them (one line of
error, exit code 2, for what an operator can get wrong).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.errors import RequestError
from ibr_service.core.query import IdentifierIs
from ibr_service.core.records import AreaRecord
from ibr_service.core.samples import enrollment_message
from ibr_service.core.samples import person_beneficiary as person
from ibr_service.core.stewardship import (
    dismiss_case,
    load_areas,
    merge_case,
    read_area_csv,
    split_source,
)
from ibr_service.store_sql import SqlStore, upgrade

NOW = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
PA = Caller(sender_id="mis-pa", allowed_programmes=frozenset({"PA"}))
PB = Caller(sender_id="mis-pb", allowed_programmes=frozenset({"PB"}))


@pytest.fixture
def core(tmp_path: Path) -> Iterator[IbrCore]:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    yield IbrCore(store, clock=lambda: NOW, settings=CoreSettings())
    store.engine.dispose()


def _push(core: IbrCore, caller: Caller, *records: dict) -> list[str]:
    answer = core.enrollment_updates(enrollment_message(list(records)), caller=caller)
    return [item["status"] for item in answer["enrolled_response"]]


def _clash(core: IbrCore) -> str:
    """PA's person, then PB's record of the same NID with the other sex: one open case."""
    assert _push(core, PA, person("71", programme="PA", record_id="A-1", sex="female")) == ["succ"]
    assert _push(core, PB, person("71", programme="PB", record_id="B-1", sex="male")) == ["succ"]
    with core.store.transaction() as tx:
        (case,) = tx.identity_cases(status="open")
    assert case.kind == "demographic_clash"
    return case.case_id


def test_a_clash_is_kept_apart_until_a_steward_merges_it(core: IbrCore) -> None:
    case_id = _clash(core)
    with core.store.transaction() as tx:
        case = tx.get_identity_case(case_id)
        assert case is not None
        original, clashing = case.subject_keys
        assert original == "p:NID:71"
        assert tx.load_subject_states([original])[original].subject.sex == "female"
    merged = merge_case(core.store, case_id, into=original, actor="officer-1", now=NOW)
    assert merged.status == "merged"
    with core.store.transaction() as tx:
        state = tx.load_subject_states([original, clashing])
        audit = [e.action for e in tx.iter_audit()]
    assert list(state) == [original], "the merged subject must be gone"
    assert {s.programme_identifier for s in state[original].sources} == {"PA", "PB"}
    assert "identity.merge" in audit
    with pytest.raises(RequestError, match="already merged"):
        dismiss_case(core.store, case_id, actor="officer-1", now=NOW)


def test_a_dismissed_case_keeps_both_people_and_is_not_reopened(core: IbrCore) -> None:
    case_id = _clash(core)
    dismiss_case(core.store, case_id, actor="officer-1", now=NOW, note="twins")
    assert _push(
        core, PB, person("71", programme="PB", record_id="B-1", sex="male", status="4")
    ) == ["succ"]
    with core.store.transaction() as tx:
        assert tx.identity_cases(status="open") == []
        (case,) = tx.identity_cases(status="dismissed")
    assert case.note == "twins"


def test_split_moves_one_source_record_to_a_new_subject(core: IbrCore) -> None:
    _push(core, PA, person("72", programme="PA", record_id="A-2"))
    _push(core, PB, person("72", programme="PB", record_id="B-2"))
    new_key = split_source(core.store, "p:NID:72", "mis-pb|PB|B-2", actor="officer-2", now=NOW)
    with core.store.transaction() as tx:
        states = tx.load_subject_states(["p:NID:72", new_key])
        (kept,) = tx.load_beneficiaries(["p:NID:72"])
        (moved,) = tx.load_beneficiaries([new_key])
        found, _ = tx.search_subjects(
            IdentifierIs("NID", "72"), kind=None, sort=(), offset=0, limit=5
        )
    assert [s.source_key for s in states[new_key].sources] == ["mis-pb|PB|B-2"]
    assert [e.programme_identifier for e, _, _ in kept.enrolments] == ["PA"]
    assert [e.programme_identifier for e, _, _ in moved.enrolments] == ["PB"]
    assert found == ["p:NID:72"], "the identifier stays with the subject it was linked to"
    with pytest.raises(RequestError, match="one source record"):
        split_source(core.store, new_key, "mis-pb|PB|B-2", actor="officer-2", now=NOW)


def test_areas_resolve_every_level_and_refuse_orphans(core: IbrCore, tmp_path: Path) -> None:
    csv_file = tmp_path / "areas.csv"
    csv_file.write_text(
        "country_code,level,area_code,name,parent_code\n"
        "KE,1,KE-03,Rift,\nKE,2,KE-0302,Nakuru,KE-03\nKE,3,KE-0302005,Njoro,KE-0302\n",
        encoding="utf-8",
    )
    assert load_areas(core.store, read_area_csv(csv_file), actor="op", now=NOW) == 3
    record = person("73", programme="PA", region=None, district=None)
    record["member"]["demographic_info"]["address"] = [{"sub_region_code": "KE-0302005"}]
    _push(core, PA, record)
    with core.store.transaction() as tx:
        subject = tx.load_subject_states(["p:NID:73"])["p:NID:73"].subject
    assert subject.area_levels == ("KE-03", "KE-0302", "KE-0302005", None)
    orphan = [AreaRecord("KE-9999", 2, "Nowhere", "KE-99", "KE")]
    with pytest.raises(RequestError, match="parent"):
        load_areas(core.store, orphan, actor="op", now=NOW)
    bad = tmp_path / "bad.csv"
    bad.write_text("country_code,level,area_code,name,parent_code\nKE,x,A,B,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: level"):
        read_area_csv(bad)


def _ibr(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IBR_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ibr"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_ibr_commands_list_and_decide_cases(core: IbrCore, tmp_path: Path) -> None:
    case_id = _clash(core)
    url = str(core.store.engine.url)  # type: ignore[attr-defined]
    listed = _ibr(url, "identity", "list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout.strip().splitlines()[0])["case_id"] == case_id
    wrong = _ibr(url, "identity", "merge", case_id, "--into", "p:NID:nobody")
    assert (wrong.returncode, len(wrong.stdout.strip().splitlines())) == (2, 1), wrong.stdout
    merged = _ibr(url, "identity", "merge", case_id, "--into", "p:NID:71", "--actor", "me")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    scope = _ibr(url, "clients", "scope", "nobody", "--programmes", "all")
    assert scope.returncode == 2
    assert "no client" in scope.stdout
