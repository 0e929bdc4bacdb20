"""txn/status reports only search, subscribe and receipt transactions, of the kind asked."""

from __future__ import annotations

from typing import Any

import pytest

from ibr_protocol import validate
from ibr_service.core import IbrCore, NotFoundError
from ibr_service.core.samples import search_message

from .conftest import SP


def _envelope(action: str, message: dict[str, Any]) -> dict[str, Any]:
    header = {
        "version": "1.0.0",
        "message_id": f"m-{action}",
        "message_ts": "2024-05-02T10:00:00Z",
        "action": action,
        "sender_id": SP.sender_id,
        "sender_uri": f"https://sp.example/registry/on-{action}",
        "receiver_id": "IBR",
        "total_count": 1,
        "is_msg_encrypted": False,
    }
    return {"header": header, "message": message}


def _asking(txn_type: str, transaction_id: str = "0") -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "txnstatus_request": {
            "reference_id": "r-1",
            "txn_type": txn_type,
            "attribute_type": "transaction_id",
            "attribute_value": transaction_id,
        },
    }


def test_a_txn_status_transaction_is_not_reported_as_a_search(core: IbrCore) -> None:
    """If this fails, txn/status answers a search status with an earlier txn-status result
    nested inside: a schema-invalid response (found by fuzzing the real IBR)."""
    core.accept_async("txn-status", _envelope("txn-status", _asking("search")), caller=SP)
    core.run_pending(10)
    with pytest.raises(NotFoundError):
        core.txn_status(_asking("search"), caller=SP)


def test_the_status_is_of_the_kind_asked_and_schema_valid(core: IbrCore) -> None:
    """If this fails, a search transaction is reported under another txn_type, or a pending
    one with results the spec's txn_status_response does not allow."""
    message = {
        **search_message("idtype-value", {"type": "NID", "value": "1"}),
        "transaction_id": "0",
    }
    core.accept_async("search", _envelope("search", message), caller=SP)
    with pytest.raises(NotFoundError):
        core.txn_status(_asking("subscribe"), caller=SP)
    pending = core.txn_status(_asking("search"), caller=SP)
    assert pending["txnstatus_response"]["txn_type"] == "search"
    validate(pending, "messages/txn_status_response")
    core.run_pending(10)
    done = core.txn_status(_asking("search"), caller=SP)
    assert "search_response" in done["txnstatus_response"]["txn_status"]
    validate(done, "messages/txn_status_response")
