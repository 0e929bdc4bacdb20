"""Core behaviour behind IBR-ENROLLED-005 (unknown programme per check) and IBR-TXN-003
(unknown transaction answered `rjct.txn.not_found`), on SQLite and PostgreSQL."""

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


def test_unknown_transaction_carries_its_rjct_response(core: IbrCore) -> None:
    """If this fails, the host has nothing spec-valid to answer an unknown transaction with:
    the error must carry a TxnStatusResponse without txn_status and the reason code."""
    asked = {
        "transaction_id": "T-ask",
        "txnstatus_request": {
            "reference_id": "q",
            "txn_type": "receipt",
            "attribute_type": "transaction_id",
            "attribute_value": "never-sent",
        },
    }
    with pytest.raises(TxnNotFoundError) as caught:
        core.txn_status(asked, caller=SP)
    assert isinstance(caught.value, NotFoundError)  # hosts unaware of it still answer an ERR
    assert caught.value.reason == "rjct.txn.not_found"
    response = caught.value.response
    validate(response, "messages/txn_status_response")
    assert response["transaction_id"] == "T-ask"
    assert response["txnstatus_response"] == {"txn_type": "receipt"}
