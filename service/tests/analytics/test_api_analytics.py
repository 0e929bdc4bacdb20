"""The analytics extension operations over real HTTP: token required, read scope applied."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from ibr_protocol import spec_dir
from ibr_service.analytics.rollups import rebuild_rollups
from ibr_service.analytics.scoring import truth_pairs
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.core import Caller
from ibr_service.core.samples import enrollment_message
from ibr_service.settings import Settings

from .conftest import Population, population

OPERATOR = Caller(sender_id="operator")
SPEC_HOST = "https://ibr.example.go.ke"


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


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(spec_dir() / "openapi.yaml"))


def assert_matches_spec(openapi: OpenAPI, path: str, response: httpx.Response) -> None:
    """The response validates against spec/openapi.yaml's operation (openapi-core)."""
    mock = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=response.headers.get("content-type", "application/json").split(";")[0],
        headers=dict(response.headers),
    )
    openapi.validate_response(MockRequest(SPEC_HOST, "get", path), mock)


@pytest.mark.parametrize(
    "path",
    [
        "/coverage?as_of=2025-06-30&k=5",
        "/coverage/snapshot?as_of=2025-06-30&level=2",
        "/overlaps",
        "/transitions?months=3&as_of=2025-06-30",
        "/quality?as_of=2025-06-30",
        "/coverage/snapshot?level=9",
        "/quality?as_of=not-a-date",
    ],
)
def test_every_analytics_answer_matches_the_spec(box: Sandbox, openapi: OpenAPI, path: str) -> None:
    response = get(box, path)
    assert response.status_code in (200, 400), response.text
    assert_matches_spec(openapi, f"/analytics{path.split('?')[0]}", response)


def test_without_a_token_the_refusal_matches_the_spec(box: Sandbox, openapi: OpenAPI) -> None:
    response = httpx.get(f"{box.url}/analytics/coverage/snapshot", timeout=30)
    assert response.status_code == 401
    assert_matches_spec(openapi, "/analytics/coverage/snapshot", response)


def test_the_snapshot_comes_from_fresh_rollups_with_the_same_numbers(
    box: Sandbox, openapi: OpenAPI
) -> None:
    set_read_programmes(box, "all")
    today = dt.date.today().isoformat()
    before = get(box, f"/coverage/snapshot?as_of={today}&k=1&level=3")
    assert before.status_code == 200, before.text
    assert before.json()["summary"]["source"] == "ad hoc"  # no rollups built yet
    engine = box.host.store.engine  # type: ignore[attr-defined]
    rebuild_rollups(engine, dt.date.today(), datetime.now(UTC))
    after = get(box, f"/coverage/snapshot?as_of={today}&k=1&level=3")
    assert after.status_code == 200, after.text
    assert_matches_spec(openapi, "/analytics/coverage/snapshot", after)
    assert after.json()["summary"]["source"] == "rollups"
    assert after.json()["tables"] == before.json()["tables"]
    assert len(after.json()["tables"]["snapshot"]) > 20
    set_read_programmes(box, ["OAP"])
    try:
        scoped = get(box, f"/coverage/snapshot?as_of={today}&k=1").json()
    finally:
        set_read_programmes(box, "all")
    assert scoped["summary"]["source"] == "ad hoc"  # a read scope is counted on its own rows
    assert {row["programme"] for row in scoped["tables"]["snapshot"]} - {"Total"} == {"OAP"}
