"""IBR-SEC-009: an inbound message is checked in the order access token, sender binding,
signature, time window, replay, decryption, schema, and the first failure is the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from ibr_protocol import sign_envelope
from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request
from ibr_service.cli.sandbox import Sandbox

SEARCH = "/registry/sync/search"
BAD_MESSAGE: dict[str, Any] = {"search_request": "not a list"}
"""A message that breaks the search_request schema."""


def _envelope(box: Sandbox, *, age: timedelta = timedelta(0), sender_id: str = "") -> Any:
    return build_request(
        action="search",
        message=dict(BAD_MESSAGE),
        sender_id=sender_id or box.spmis.sender_id,
        receiver_id=box.spmis.receiver_id,
        now=utc_now() - age,
    )


def _post(box: Sandbox, body: Any, *, token: str | None = None) -> httpx.Response:
    return box.spmis.http.post(
        f"{box.url}{SEARCH}",
        json=body,
        headers={"Authorization": f"Bearer {token if token is not None else box.spmis.token()}"},
    )


def _error(reply: httpx.Response, status: int) -> dict[str, str]:
    assert reply.status_code == status, reply.text
    error: dict[str, str] = reply.json()["message"]["error"]
    return error


def test_bad_token_wins_over_a_bad_schema(ibr: Sandbox) -> None:
    """If this fails, an unauthenticated caller learns schema errors (and costs validation)."""
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    error = _error(_post(ibr, signed, token="not-a-token"), 401)
    assert error["code"] == "err.request.unauthorized"


def test_sender_binding_wins_over_a_bad_schema(ibr: Sandbox) -> None:
    """If this fails, the schema is judged before the sender is bound to the token client."""
    signed = sign_envelope(_envelope(ibr, sender_id="someone.else"), ibr.spmis.private_jwk)
    assert _error(_post(ibr, signed), 403)["code"] == "err.sender_id.invalid"


def test_bad_signature_wins_over_a_bad_schema(ibr: Sandbox) -> None:
    """If this fails, a forged message is answered with schema details instead of refused."""
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    signed["message"]["extra"] = "added after signing"
    error = _error(_post(ibr, signed), 401)
    assert error["code"] == "err.signature.invalid"
    assert "err.signature.mismatch" in error["message"]


def test_stale_message_ts_wins_over_a_bad_schema(ibr: Sandbox) -> None:
    """If this fails, the time window is checked after the schema (conformance precedence check)."""
    signed = sign_envelope(_envelope(ibr, age=timedelta(hours=1)), ibr.spmis.private_jwk)
    error = _error(_post(ibr, signed), 400)
    assert error["code"] == "err.request.bad"
    assert "err.message_ts.invalid" in error["message"], error["message"]


def test_replay_wins_over_a_bad_schema(ibr: Sandbox) -> None:
    """If this fails, a replayed message is not caught before its schema is judged.

    The first send is fresh and signed, so it uses up its message_id before the schema refuses
    it (intended by the order); the second is the replay.
    """
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    first = _error(_post(ibr, signed), 400)
    assert "does not match schema" in first["message"], first["message"]
    second = _error(_post(ibr, signed), 400)
    assert "err.message_id.duplicate" in second["message"], second["message"]


def test_schema_is_judged_when_everything_else_passes(ibr: Sandbox) -> None:
    """If this fails, a schema-invalid message reaches the core or gets the wrong code."""
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    error = _error(_post(ibr, signed), 400)
    assert error["code"] == "err.request.bad"
    assert "api/envelope_search_request" in error["message"], error["message"]


@pytest.mark.parametrize("header", [None, "text", 7, ["a"], True])
def test_header_of_the_wrong_type_is_a_schema_error(ibr: Sandbox, header: Any) -> None:
    """If this fails, a header that is not an object crashes a check (500) or gets a wrong code."""
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    error = _error(_post(ibr, {**signed, "header": header}), 400)
    assert error["code"] == "err.request.bad"
    assert "header" in error["message"], error["message"]


@pytest.mark.parametrize("message", [None, "text", 7, ["a"]])
def test_message_of_the_wrong_type_never_crashes(ibr: Sandbox, message: Any) -> None:
    """If this fails, a message that is not an object crashes a check (500)."""
    signed = sign_envelope(_envelope(ibr), ibr.spmis.private_jwk)
    reply = _post(ibr, {**signed, "message": message})
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["message"]["ack_status"] == "ERR"


def test_unstorable_message_id_is_refused_without_a_crash(ibr: Sandbox) -> None:
    """If this fails, a signed message_id longer than the replay memory holds ends in a 500."""
    envelope = _envelope(ibr)
    envelope["header"]["message_id"] = "m" * 300
    error = _error(_post(ibr, sign_envelope(envelope, ibr.spmis.private_jwk)), 400)
    assert "header.message_id" in error["message"], error["message"]
