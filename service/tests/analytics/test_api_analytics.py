"""The analytics extension operations over real HTTP: token required, read scope applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ibr_service.analytics.scoring import truth_pairs
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.core import Caller
from ibr_service.core.samples import enrollment_message
from ibr_service.settings import Settings

from .conftest import Population, population

OPERATOR = Caller(sender_id="operator")


@pytest.fixture(scope="module")
def small() -> Population:
    return population(5, 1500)


@pytest.fixture(scope="module")
def box(small: Population, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder: Path = tmp_path_factory.mktemp("api")
    settings = Settings(database_url=f"sqlite:///{folder / 'ibr.db'}", run_outbox=False)
    with sandbox(settings) as running:
        core = running.host.core
        for start in range(0, len(small.records), 250):
            batch = small.records[start : start + 250]
            core.enrollment_updates(enrollment_message(batch, f"T-{start}"), caller=OPERATOR)
        yield running


def get(box: Sandbox, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or box.spmis.token()}"}
    return httpx.get(f"{box.url}/analytics{path}", headers=headers, timeout=120)


def set_read_programmes(box: Sandbox, programmes: list[str] | str) -> None:
    store = box.host.store
    with store.transaction() as tx:
        client = tx.get_client(box.spmis.sender_id)
        assert client is not None
        tx.put_client(dataclasses.replace(client, read_programmes=programmes))


def test_a_token_is_required(box: Sandbox) -> None:
    response = httpx.get(f"{box.url}/analytics/coverage", timeout=30)
    assert response.status_code == 401
    assert get(box, "/coverage", token="not-a-token").status_code == 401


def test_overlaps_answer_every_planted_overlap(box: Sandbox, small: Population) -> None:
    set_read_programmes(box, "all")
    response = get(box, "/overlaps")
    assert response.status_code == 200, response.text
    rows = response.json()["tables"]["overlaps"]
    found = {frozenset((r["record_a"], r["record_b"])) for r in rows}
    assert found == truth_pairs(small.truth, "cross_programme_overlap")


def test_coverage_is_limited_to_the_read_scope_and_protected(box: Sandbox) -> None:
    set_read_programmes(box, ["OAP", "DSG"])
    try:
        response = get(box, "/coverage?as_of=2025-06-30&k=5")
    finally:
        set_read_programmes(box, "all")
    assert response.status_code == 200, response.text
    tables = response.json()["tables"]
    programmes = {row["programme"] for row in tables["snapshot"]} - {"Total"}
    assert programmes == {"OAP", "DSG"}
    counts = [row["beneficiaries"] for row in tables["snapshot"] if row["beneficiaries"]]
    assert counts
    assert all(count >= 5 for count in counts)
    overlaps = get(box, "/overlaps").json()["tables"]["overlaps"]
    set_read_programmes(box, ["CCT"])
    try:
        scoped = get(box, "/overlaps").json()["tables"]["overlaps"]
    finally:
        set_read_programmes(box, "all")
    assert overlaps
    assert scoped == [], "CCT x FOOD cases need FOOD in the read scope too"


def test_transitions_and_quality_answer_and_bad_parameters_are_400(box: Sandbox) -> None:
    assert get(box, "/transitions?months=3&as_of=2025-06-30").status_code == 200
    feeds = get(box, "/quality?as_of=2025-06-30").json()["tables"]["feeds"]
    assert {feed["sender_id"] for feed in feeds} == {"operator"}
    assert get(box, "/coverage?level=9").status_code in (400, 422)
