"""The overlap check on every ingested batch (IBR-REG-015): planted overlaps are noted on the
items that made them, accepted, recorded as cases with the batch, and agree with a full
recompute; a client is not told the name of a programme outside its read scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibr_service.analytics.cases import OverlapCheck, list_cases, recompute_overlaps
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.api import build_host
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.batch_checks import REASON_OVERLAP_DETECTED
from ibr_service.core.caller import ReadScope
from ibr_service.core.samples import enrollment_message
from ibr_service.settings import Settings
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import Population, population

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SP = Caller(sender_id="SP-MIS", scopes=frozenset({"ibr.write", "ibr.search"}))
BATCH = 250


@dataclass
class Ingested:
    store: SqlStore
    notes: dict[str, str]
    """Record id -> status_reason_message of every item answered succ.overlap.detected."""
    statuses: set[str]


def record_id(record: dict) -> str:
    return str(record["programme_identifier"][0]["beneficiary_programme_id"])


def ingest(tmp_path: Path, pop: Population, caller: Caller = SP) -> Ingested:
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    core = IbrCore(
        store,
        clock=lambda: NOW,
        settings=CoreSettings(receiver_id="IBR"),
        batch_checks=[OverlapCheck(load_rules())],
    )
    notes: dict[str, str] = {}
    statuses: set[str] = set()
    for start in range(0, len(pop.records), BATCH):
        batch = pop.records[start : start + BATCH]
        answer = core.enrollment_updates(enrollment_message(batch, f"T-{start}"), caller=caller)
        for record, item in zip(batch, answer["enrolled_response"], strict=True):
            statuses.add(item["status"])
            if item.get("status_reason_code") == REASON_OVERLAP_DETECTED:
                notes[record_id(record)] = item["status_reason_message"]
    return Ingested(store, notes, statuses)


@pytest.fixture(scope="module")
def pop() -> Population:
    return population(5, 1500)


@pytest.fixture(scope="module")
def ingested(pop: Population, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    result = ingest(tmp_path_factory.mktemp("check"), pop)
    yield result
    result.store.engine.dispose()


def test_every_planted_overlap_is_noted_on_the_item_that_made_it(
    pop: Population, ingested: Ingested
) -> None:
    assert ingested.statuses == {"succ"}  # noted, never refused
    order = {record_id(r): n for n, r in enumerate(pop.records)}
    expected = truth_pairs(pop.truth, "cross_programme_overlap")
    assert len(expected) >= 5
    later = {max(pair, key=order.__getitem__) for pair in expected}
    planted = {r for pair in expected for r in pair}
    assert later <= set(ingested.notes)
    assert set(ingested.notes) <= planted


def test_each_note_names_a_case_recorded_with_the_batch(ingested: Ingested) -> None:
    cases = list_cases(ingested.store)
    named = {case for note in ingested.notes.values() for case in re.findall(r"OV-[0-9a-f]+", note)}
    assert named
    assert named <= set(cases["case_id"])
    assert set(cases["status"]) == {"open"}


def test_the_batch_checks_found_what_a_full_recompute_finds(ingested: Ingested) -> None:
    before = set(list_cases(ingested.store)["case_id"])
    assert recompute_overlaps(ingested.store, load_rules(), NOW) == []
    assert set(list_cases(ingested.store)["case_id"]) == before


def test_a_programme_outside_the_read_scope_is_not_named(
    pop: Population, ingested: Ingested, tmp_path: Path
) -> None:
    programmes = {
        str(e["programme"]["programme_identifier"])
        for r in pop.records
        for e in r["programme_identifier"]
    }
    named = {p for p in programmes if any(p in note for note in ingested.notes.values())}
    hidden = sorted(named)[0]
    blind = Caller(
        sender_id="SP-MIS",
        scopes=SP.scopes,
        read=ReadScope(programmes=frozenset(programmes - {hidden})),
    )
    again = ingest(tmp_path, pop, caller=blind)
    assert set(again.notes) == set(ingested.notes)
    assert not any(hidden in note for note in again.notes.values())
    assert any("another programme" in note for note in again.notes.values())


def test_the_host_runs_the_check_unless_it_is_turned_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'host.db'}"
    upgrade(url)

    def overlap_checks(settings: Settings) -> list[object]:
        checks = build_host(settings).core.batch_checks
        return [c for c in checks if isinstance(c, OverlapCheck)]

    assert overlap_checks(Settings(database_url=url))
    assert not overlap_checks(Settings(database_url=url, overlap_check=False))
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules: [{programmes: [A]}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="IBR_PROGRAMME_RULES_FILE") as caught:
        build_host(Settings(database_url=url, programme_rules_file=str(bad)))
    assert "\n" not in str(caught.value)
