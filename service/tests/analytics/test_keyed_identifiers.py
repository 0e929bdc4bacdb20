"""Privacy-preserving matching: every SP-MIS sends keyed-hash tokens instead of national IDs, and
the IBR still finds exactly the planted cross-programme overlaps, without holding one number."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from ibr_protocol.keyed_identifiers import IdentifierKey, key_identifiers
from ibr_service.analytics.overlaps import detect_overlaps, overlap_pairs
from ibr_service.analytics.rules import load_rules
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.analytics.sql_source import frames_from_engine
from ibr_service.store_sql import SqlStore, upgrade

from .conftest import Population, population
from .test_registry_store import ingest

OLD, NEW = IdentifierKey.generate("k2025"), IdentifierKey.generate("k2026")


@pytest.fixture(scope="module")
def pop() -> Population:
    return population(5, 1500)


def keyed_store(
    tmp_path: Path, pop: Population, keys_of: dict[str, Sequence[IdentifierKey]]
) -> SqlStore:
    """A fresh registry fed `pop` with each programme's identifiers keyed by its keys."""
    records = [key_identifiers(r, keys_of.get(programme(r), keys_of["*"])) for r in pop.records]
    url = f"sqlite:///{tmp_path / 'ibr.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    ingest(store, Population(pop.frames, pop.truth, records, pop.households))
    return store


def programme(record: dict) -> str:
    return str(record["programme_identifier"][0]["programme"]["programme_identifier"])


def record_id(record: dict) -> str:
    return str(record["programme_identifier"][0]["beneficiary_programme_id"])


def found_overlaps(store: SqlStore) -> set[frozenset[str]]:
    return overlap_pairs(detect_overlaps(frames_from_engine(store.engine), load_rules()))


def national_ids(pop: Population) -> set[str]:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("identifier_type") in ("NID", "UIN"):
                found.add(node["identifier_value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    found: set[str] = set()
    walk(pop.records)
    return found


def test_keyed_identifiers_find_every_planted_overlap_and_no_other(
    tmp_path: Path, pop: Population
) -> None:
    store = keyed_store(tmp_path, pop, {"*": [NEW]})
    expected = truth_pairs(pop.truth, "cross_programme_overlap")
    assert len(expected) >= 5
    assert found_overlaps(store) == expected


def test_the_registry_holds_no_national_id_when_programmes_send_tokens(
    tmp_path: Path, pop: Population
) -> None:
    store = keyed_store(tmp_path, pop, {"*": [NEW]})
    raw = national_ids(pop)
    assert len(raw) > 300
    tables = MetaData()
    tables.reflect(store.engine)
    with store.engine.connect() as connection:
        dump = "\n".join(
            repr(row) for table in tables.sorted_tables for row in connection.execute(select(table))
        )
    assert "HMAC_SHA256" in dump
    leaked = sorted(v for v in raw if v in dump)
    assert leaked == []


def test_a_key_rotation_links_through_programmes_that_send_both_keys(
    tmp_path: Path, pop: Population
) -> None:
    """Mid-rotation, one programme sends both tokens while the others moved to the new key:
    nothing is lost. Had it sent only the old token, its people's overlaps would be missed."""
    expected = truth_pairs(pop.truth, "cross_programme_overlap")
    programme_of = {record_id(r): programme(r) for r in pop.records}
    per_person = {programme(r) for r in pop.records if r["assistance_unit"] == "1"}
    lagging = max(
        sorted(per_person),
        key=lambda p: sum(p in {programme_of[r] for r in pair} for pair in expected),
    )
    involving = {pair for pair in expected if lagging in {programme_of[r] for r in pair}}
    assert involving, "no planted overlap involves a per-person programme"

    both = keyed_store(tmp_path / "both", pop, {"*": [NEW], lagging: [OLD, NEW]})
    assert found_overlaps(both) == expected

    old_only = found_overlaps(keyed_store(tmp_path / "old", pop, {"*": [NEW], lagging: [OLD]}))
    lost = expected - old_only
    assert old_only <= expected
    assert lost
    assert lost <= involving
