"""Envelope and acknowledgement builders produce canonical, schema-valid bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import ibr_protocol
from ibr_protocol import (
    Ack,
    ErrorCode,
    SignatureError,
    ack,
    ack_for_error,
    build_callback,
    err,
    nack,
    validate,
)


def test_request_envelope_is_valid_for_its_operation(search_envelope: dict[str, Any]) -> None:
    """build_request must produce what the search endpoint's schema accepts."""
    validate(search_envelope, "api/envelope_search_request")
    header = search_envelope["header"]
    assert header["total_count"] == 1
    assert header["is_msg_encrypted"] is False
    assert header["message_ts"] == "2025-03-01T12:00:00.000Z"
    assert "meta" not in header


def test_callback_envelope_is_valid(now: datetime) -> None:
    """build_callback must produce a valid callback header (status, counts)."""
    message = {
        "transaction_id": "txn-1",
        "correlation_id": "cor-1",
        "search_response": [
            {"reference_id": "r1", "timestamp": "2025-03-01T12:00:00Z", "status": "pdng"}
        ],
    }
    envelope = build_callback(
        action="on-search",
        message=message,
        status="pdng",
        sender_id="ibr.example.org",
        receiver_id="spmis.example.org",
        completed_count=0,
        now=now,
    )
    validate(envelope, "api/envelope_search_response")
    assert "status_reason_code" not in envelope["header"]


@pytest.mark.parametrize("builder", [ack, nack], ids=["ack", "nack"])
def test_ack_and_nack_validate_without_error(builder: Any, now: datetime) -> None:
    """ACK/NACK must never carry `error` (the ack schema forbids it)."""
    body = builder("cor-1", now=now)
    validate(body, "api/ack")
    Ack.model_validate(body)
    assert "error" not in body["message"]


def test_err_carries_code_and_message(now: datetime) -> None:
    """ERR must carry error {code, message} or the sender cannot tell what failed."""
    body = err(ErrorCode.SIGNATURE_MISSING, "no signature", correlation_id="c", now=now)
    validate(body, "api/ack")
    assert body["message"]["error"] == {"code": "err.signature.missing", "message": "no signature"}


def test_err_refuses_a_code_that_is_not_dci() -> None:
    """Our finer reasons are not wire codes; emitting one would break DCI receivers."""
    with pytest.raises(ValueError, match=r"not a DCI Error\.code"):
        err(ErrorCode.SIGNATURE_MISMATCH, "x")


def test_err_without_correlation_id_still_validates() -> None:
    """An unreadable request still gets a schema-valid ERR (correlation_id is required)."""
    validate(err("err.request.bad", "unreadable"), "api/ack")


def test_ack_for_error_maps_reason_to_dci_code(now: datetime) -> None:
    """The mapping exception -> ERR body is the one place the service relies on."""
    exc = SignatureError("nope", reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value, field="signature")
    body = ack_for_error(exc, correlation_id="c1", now=now)
    validate(body, "api/ack")
    assert body["message"]["error"]["code"] == "err.signature.invalid"
    assert "err.signature.key_unknown" in body["message"]["error"]["message"]


def test_error_message_is_truncated_to_dci_limit() -> None:
    """DCI limits error.message to 999 characters."""
    body = err("err.request.bad", "x" * 5000)
    validate(body, "api/ack")
    assert len(body["message"]["error"]["message"]) == 999


def test_builders_do_not_share_the_callers_message() -> None:
    """Mutating the returned envelope must not change the caller's message."""
    message = {
        "transaction_id": "t",
        "subscription_codes": ["a"],
        "timestamp": "2025-01-01T00:00:00Z",
    }
    envelope = ibr_protocol.build_request(
        action="unsubscribe", message=message, sender_id="s", receiver_id="r"
    )
    envelope["message"]["transaction_id"] = "changed"
    assert message["transaction_id"] == "t"


def test_envelope_schema_is_told_from_action_and_message(search_envelope: dict[str, Any]) -> None:
    """Receivers pick the operation schema from the envelope; a wrong pick rejects good input."""
    from ibr_protocol.envelope import envelope_schema

    assert envelope_schema(search_envelope) == "api/envelope_search_request"
    enrolled = {**search_envelope, "message": {"transaction_id": "t", "enrolled_criteria": {}}}
    assert envelope_schema(enrolled) == "api/envelope_enrolled_request"


@pytest.mark.parametrize("given", ["x" * 100, ""])
def test_err_replaces_a_correlation_id_the_ack_schema_refuses(given: str) -> None:
    """Echoing an over-long id (or an empty one) would make the ERR itself invalid."""
    body = err("err.request.bad", "too long", correlation_id=given)
    validate(body, "api/ack")
    assert body["message"]["correlation_id"] != given


def test_err_keeps_a_correlation_id_of_the_longest_allowed_length() -> None:
    body = err("err.request.bad", "fine", correlation_id="c" * 99)
    assert body["message"]["correlation_id"] == "c" * 99
