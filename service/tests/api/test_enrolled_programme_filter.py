"""sync/enrolled with a programme filter: an unknown programme is that check's `rjct` with
`rjct.programme.unknown`, the other checks are still answered (IBR-ENROLLED-005, IBR-ERR-005),
and every rejected check uses a reason code of api/enrolled_status_reason_code."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_core import OpenAPI

from ibr_protocol import validate
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import enrollment_message
from ibr_service.core.samples import programme_check, programme_expression

from .conftest import assert_matches_openapi

ENROLLED = "/registry/sync/enrolled"
NID = "1000000001"


@pytest.fixture(scope="module")
def loaded(ibr: Sandbox) -> Sandbox:
    """The IBR with the built-in beneficiaries enrolled in DEMO-CT."""
    reply = ibr.spmis.send(
        "/registry/sync/enrollment/updates", "notify", enrollment_message(builtin_beneficiaries())
    )
    assert reply.status_code == 200, reply.text
    return ibr


def _ask(box: Sandbox, openapi: OpenAPI, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    message = {"transaction_id": "txn-enrolled-programme", "enrolled_criteria": checks}
    reply = box.spmis.send(ENROLLED, "search", message)
    assert reply.status_code == 200, reply.text
    assert_matches_openapi(openapi, ENROLLED, reply)
    validate(reply.json(), "api/envelope_enrolled_response")
    answers: list[dict[str, Any]] = reply.json()["message"]["enrolled_response"]
    return answers


def test_unknown_programme_is_rejected_per_check(loaded: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a check naming a programme the IBR has never heard of is answered `succ`
    (`no`), so a typo in a programme id looks like "not enrolled" (IBR-ENROLLED-005)."""
    answers = _ask(
        loaded,
        openapi,
        [
            programme_check("c-unknown", NID, programme_expression("eq", "NO-SUCH-PROGRAMME")),
            programme_check("c-known", NID, programme_expression("eq", "DEMO-CT")),
        ],
    )
    unknown, known = answers
    assert (unknown["reference_id"], unknown["status"], unknown["status_reason_code"]) == (
        "c-unknown",
        "rjct",
        "rjct.programme.unknown",
    )
    assert "NO-SUCH-PROGRAMME" in unknown["status_reason_message"]
    assert (known["reference_id"], known["status"], known["enrolled_status"]) == (
        "c-known",
        "succ",
        "yes",
    )


def test_unknown_programme_in_an_in_list_is_rejected(loaded: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, an `in` filter hides an unknown programme among known ones."""
    (answer,) = _ask(
        loaded,
        openapi,
        [programme_check("c1", NID, programme_expression("in", ["DEMO-CT", "NO-SUCH-PROGRAMME"]))],
    )
    assert (answer["status"], answer["status_reason_code"]) == ("rjct", "rjct.programme.unknown")


def test_known_programme_without_this_person_is_no(loaded: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, the programme check rejects a known programme when the person is simply
    not enrolled in it (that is `succ` / `no`)."""
    (answer,) = _ask(
        loaded, openapi, [programme_check("c1", "999999999", programme_expression("eq", "DEMO-CT"))]
    )
    assert (answer["status"], answer["enrolled_status"]) == ("succ", "no")


def test_bad_criteria_use_an_enrolled_reason_code(loaded: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a check the query parser refuses (here a date that is no date) is rejected
    with a search reason code that api/enrolled_status_reason_code does not know, and the response
    breaks its own schema. (Every attribute the spec lists is queryable since the registry
    model, so the refused check here is a date that is no date.)"""
    bad = {
        "reference_id": "c-bad",
        "query_type": "expression",
        "query": {
            "attribute_name": "enrolment_date",
            "operator": "eq",
            "attribute_value": "not-a-date",
        },
    }
    (answer,) = _ask(loaded, openapi, [bad])
    assert (answer["status"], answer["status_reason_code"]) == (
        "rjct",
        "rjct.enrolled_criteria.invalid",
    )
