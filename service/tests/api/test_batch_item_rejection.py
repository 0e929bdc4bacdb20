"""One bad item never loses the good ones: a sync/enrollment/updates batch mixing good,
schema-invalid and semantically invalid beneficiaries, over real HTTP, on SQLite and PostgreSQL.
The good ones are stored, each bad one is rejected alone with the spec's reason code, nothing
else is written, and the response validates against spec/openapi.yaml."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_core import OpenAPI

from ibr_protocol.clock import utc_now
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.cli.spmis import ScriptedSpMis, enrolled_message, enrollment_message
from ibr_service.core.samples import person_beneficiary
from ibr_service.security.clients import register_client

from .conftest import assert_matches_openapi, fast_settings, pg_database, row_counts

PATH = "/registry/sync/enrollment/updates"
ALLOWED = "DCI001"
FOREIGN = "OTHER-PROG"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def box(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """The IBR on each backend (PostgreSQL: a database ibr_test_perf_* of its own); its SP-MIS
    may publish for ALLOWED only."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('ibr')}/ibr.db"
        else:
            url = stack.enter_context(pg_database("ibr_test_perf"))
        yield from _restricted_box(url)


def _restricted_box(url: str) -> Iterator[Sandbox]:
    with sandbox(fast_settings(url, max_body_bytes=4 * 1024 * 1024)) as running:
        restricted = ScriptedSpMis(
            base_url=running.spmis.base_url, sender_id="restricted.spmis", client_secret=""
        )
        _, secret = register_client(
            running.host.store,
            sender_id="restricted.spmis",
            now=utc_now(),
            public_keys=[restricted.public_jwk],
            allowed_programmes=[ALLOWED],
        )
        restricted.client_secret = secret
        running.spmis = restricted
        yield running
        restricted.http.close()


def _with(item: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(item)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return changed


@dataclass(frozen=True)
class Case:
    item: dict[str, Any]
    status: str
    reason: str

    @property
    def national_id(self) -> str:
        return str(self.item["member"]["member_identifier"][0]["identifier_value"])


def _mixed_batch(prefix: str) -> list[Case]:
    """Good, schema-invalid and semantically invalid items, each with its expected result."""
    sex = ("member", "demographic_info", "sex")
    birth = ("member", "demographic_info", "birth_date")
    cases: list[Case] = []

    def add(ref: str, status: str, reason: str, item: dict[str, Any]) -> None:
        cases.append(Case({**item, "reference_id": ref}, status, reason))

    def person(n: int, **kwargs: Any) -> dict[str, Any]:
        return person_beneficiary(f"{prefix}{n:03d}", **kwargs)

    invalid = "rjct.beneficiary.invalid"
    add("good-1", "succ", "", person(1))
    # A DCI variant spelling ("F" for female) is normalised per item and accepted.
    add("good-variant", "succ", "", _with(person(2), sex, "F"))
    add("bad-code", "rjct", invalid, _with(person(3), sex, "X"))
    add("bad-date", "rjct", invalid, _with(person(4), birth, "2024-02-30"))
    add("bad-extra", "rjct", invalid, {**person(5), "shoe_size": 42})
    add("foreign", "rjct", "rjct.programme.not_allowed", person(6, programme=FOREIGN))
    add("good-1", "rjct", "rjct.reference_id.duplicate", person(7))
    add("good-3", "succ", "", person(8))
    return cases


def _enrolled(box: Sandbox, national_id: str) -> str:
    reply = box.spmis.send("/registry/sync/enrolled", "search", enrolled_message(national_id))
    assert reply.status_code == 200, reply.text
    return str(reply.json()["message"]["enrolled_response"][0]["enrolled_status"])


def test_bad_items_are_rejected_alone_and_the_good_ones_stored(
    box: Sandbox, openapi: OpenAPI
) -> None:
    """If this fails, one bad beneficiary costs an SP-MIS its whole batch (or a bad one is
    stored, or rejected with a code outside api/enrolment_update_reason_code)."""
    warm = box.spmis.send(PATH, "notify", enrollment_message([person_beneficiary("W-001")]))
    assert warm.status_code == 200, warm.text
    cases = _mixed_batch("M-")
    before = row_counts(box)
    reply = box.spmis.send(PATH, "notify", enrollment_message([c.item for c in cases]))
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, PATH, reply)
    results = reply.json()["message"]["enrolled_response"]
    assert len(results) == len(cases)
    for result, case in zip(results, cases, strict=True):
        assert result["reference_id"] == case.item["reference_id"]
        assert (result["status"], result.get("status_reason_code", "")) == (
            case.status,
            case.reason,
        ), result
        if case.status == "rjct":
            assert result["status_reason_message"].startswith(
                "message.enrolled_updates.beneficiaries["
            ), result
    by_ref = {r["reference_id"]: r for r in results if r["status"] == "rjct"}
    assert ".member.demographic_info.sex" in by_ref["bad-code"]["status_reason_message"]
    assert "date" in by_ref["bad-date"]["status_reason_message"]
    assert "shoe_size" in by_ref["bad-extra"]["status_reason_message"]
    after_mixed = row_counts(box)

    # The rows a batch of only the good items writes (fresh ids, same shapes) must be exactly
    # the rows the mixed batch wrote: the bad items added nothing.
    good_only = [c.item for c in _mixed_batch("G-") if c.status == "succ"]
    control = box.spmis.send(PATH, "notify", enrollment_message(good_only))
    assert control.status_code == 200, control.text
    assert {r["status"] for r in control.json()["message"]["enrolled_response"]} == {"succ"}
    after_control = row_counts(box)
    mixed_delta = {t: after_mixed[t] - before[t] for t in before}
    control_delta = {t: after_control[t] - after_mixed[t] for t in before}
    assert mixed_delta == control_delta
    assert mixed_delta["enrolments"] == len(good_only)

    for case in cases:
        assert _enrolled(box, case.national_id) == ("yes" if case.status == "succ" else "no")


def test_a_batch_over_the_spec_size_limit_is_refused_whole(box: Sandbox) -> None:
    """If this fails, the skeleton check lost the spec's maxItems and a sender can make the IBR
    process an unbounded batch."""
    items = [person_beneficiary(f"L-{i:05d}") for i in range(1001)]
    reply = box.spmis.send(PATH, "notify", enrollment_message(items))
    assert reply.status_code == 400, reply.text
    error = reply.json()["message"]["error"]
    assert "maxItems" in error["message"], error
    assert "beneficiaries" in error["message"], error


def test_a_broken_skeleton_is_still_an_err(box: Sandbox) -> None:
    """If this fails, moving item checks to the core also dropped the message-shape checks
    (an unknown receipt_type must still refuse the request)."""
    message = enrollment_message([person_beneficiary("S-001")])
    message["enrolled_updates"]["receipt_type"] = "sometimes"
    reply = box.spmis.send(PATH, "notify", message)
    assert reply.status_code == 400, reply.text
    assert "receipt_type" in reply.json()["message"]["error"]["message"]
