"""Core behaviour behind IBR-ENROLLED-005 (unknown programme per check) and IBR-TXN-003
(unknown transaction answered inside DCI's schema), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ibr_protocol import validate
from ibr_service.core import IbrCore, NotFoundError, TxnNotFoundError
from ibr_service.core.samples import (
    enrollment_message,
    person_beneficiary,
    programme_check,
    programme_expression,
)

from .conftest import SP


def test_enrolled_programme_filter_rejects_only_unknown_programmes(core: IbrCore) -> None:
    """If this fails, a check naming an unknown programme is answered `no` (or a known one is
    rejected), and the answer breaks messages/enrolled_response."""
    core.enrollment_updates(
        enrollment_message([person_beneficiary("7", programme="P1")]), caller=SP
    )
    checks = [
        programme_check("eq-unknown", "7", programme_expression("eq", "P-NONE")),
        programme_check("ne-unknown", "7", programme_expression("ne", "P-NONE")),
        programme_check("in-mixed", "7", programme_expression("in", ["P1", "P-NONE"])),
        programme_check("eq-known", "7", programme_expression("eq", "P1")),
        programme_check("in-known", "8", programme_expression("in", ["P1"])),
    ]
    answer = core.enrolled({"transaction_id": "T", "enrolled_criteria": checks}, caller=SP)
    validate(answer, "messages/enrolled_response")
    got = [
        (a["reference_id"], a["status"], a.get("status_reason_code"), a.get("enrolled_status"))
        for a in answer["enrolled_response"]
    ]
    assert got == [
        ("eq-unknown", "rjct", "rjct.programme.unknown", "no"),
        ("ne-unknown", "rjct", "rjct.programme.unknown", "no"),
        ("in-mixed", "rjct", "rjct.programme.unknown", "no"),
        ("eq-known", "succ", None, "yes"),
        ("in-known", "succ", None, "no"),
    ]


@pytest.mark.parametrize(
    ("txn_type", "results"),
    [
        ("receipt", "enrolled_response"),
        ("search", "search_response"),
        ("subscribe", "subscribe_response"),
    ],
)
def test_unknown_transaction_carries_its_rjct_response(
    core: IbrCore, txn_type: str, results: str
) -> None:
    """If this fails, the host has nothing spec-valid to answer an unknown transaction with:
    the error must carry a TxnStatusResponse whose txn_status (the asked txn_type's shape) has
    one `rjct` item for the request's reference_id, reason `rjct.reference_id.invalid` (a code
    of DCI's item lists; DCI's header list has none for this)."""
    asked = {
        "transaction_id": "T-ask",
        "txnstatus_request": {
            "reference_id": "q",
            "txn_type": txn_type,
            "attribute_type": "transaction_id",
            "attribute_value": "never-sent",
        },
    }
    with pytest.raises(TxnNotFoundError) as caught:
        core.txn_status(asked, caller=SP)
    assert isinstance(caught.value, NotFoundError)  # hosts unaware of it still answer an ERR
    assert caught.value.reason == "rjct.reference_id.invalid"
    response = caught.value.response
    validate(response, "messages/txn_status_response")
    assert response["transaction_id"] == "T-ask"
    answer = response["txnstatus_response"]
    assert answer["txn_type"] == txn_type
    status = answer["txn_status"]
    assert (status["transaction_id"], status["correlation_id"]) == (
        "never-sent",
        response["correlation_id"],
    )
    [item] = status[results]
    assert (item["reference_id"], item["status"], item["status_reason_code"]) == (
        "q",
        "rjct",
        "rjct.reference_id.invalid",
    )
