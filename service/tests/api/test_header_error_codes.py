"""A header fault that DCI gives its own `Error.code` is answered with THAT code, not with
`err.request.bad` and a reason (IBR-HDR-004, IBR-HDR-005, IBR-SEC-005, IBR-CB-002, the signature
and encryption rows of the security profile), and a refused request writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI

from ibr_protocol import sign_envelope
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import search_message

from .conftest import assert_matches_openapi, row_counts

SYNC_SEARCH = "/registry/sync/search"
ASYNC_SEARCH = "/registry/search"


def _post(box: Sandbox, path: str, body: dict[str, Any]) -> httpx.Response:
    return box.spmis.post(path, body)


def _search_with_header(box: Sandbox, **changes: Any) -> dict[str, Any]:
    """A sync/search envelope with header fields changed, then signed (the signature is good)."""
    envelope = box.spmis.envelope("search", search_message("NID", "1"), sign=False)
    envelope["header"].update(changes)
    return sign_envelope(envelope, box.spmis.private_jwk)


def _assert_err(
    openapi: OpenAPI,
    path: str,
    reply: httpx.Response,
    *,
    status: int,
    code: str,
    mentions: str,
) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()["message"]
    assert body["ack_status"] == "ERR", body
    assert body["error"]["code"] == code, body
    assert mentions in body["error"]["message"], body["error"]["message"]
    assert_matches_openapi(openapi, path, reply)


@pytest.mark.parametrize("version", ["9.9.9", "1.0", "2.0.0"])
def test_unsupported_version_is_err_version_not_supported(
    ibr: Sandbox, openapi: OpenAPI, version: str
) -> None:
    """If this fails, a message of a version we do not speak is called merely malformed
    (err.request.bad) instead of err.version.not_supported (IBR-HDR-004)."""
    before = row_counts(ibr)
    reply = _post(ibr, SYNC_SEARCH, _search_with_header(ibr, version=version))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=400,
        code="err.version.not_supported",
        mentions="header.version",
    )
    assert row_counts(ibr) == before


def test_unsupported_version_wins_over_other_schema_faults(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a message of another version is judged by our schema first, so its sender
    is told about a field instead of the version it must change (IBR-HDR-004)."""
    envelope = ibr.spmis.envelope("search", {"something": "of version 9"}, sign=False)
    envelope["header"]["version"] = "9.9.9"
    reply = _post(ibr, SYNC_SEARCH, sign_envelope(envelope, ibr.spmis.private_jwk))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=400,
        code="err.version.not_supported",
        mentions="1.0.0",
    )


def test_supported_version_and_absent_version_are_accepted(ibr: Sandbox) -> None:
    """If this fails, the version check refuses our own version or a header without one
    (version is optional in the request header)."""
    assert _post(ibr, SYNC_SEARCH, _search_with_header(ibr, version="1.0.0")).status_code == 200
    envelope = ibr.spmis.envelope("search", search_message("NID", "1"), sign=False)
    del envelope["header"]["version"]
    reply = _post(ibr, SYNC_SEARCH, sign_envelope(envelope, ibr.spmis.private_jwk))
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("receiver_id", ["not-this-ibr", "x" * 120])
def test_foreign_receiver_id_is_err_receiver_id_invalid(
    ibr: Sandbox, openapi: OpenAPI, receiver_id: str
) -> None:
    """If this fails, a message meant for another system is refused with err.request.bad
    instead of the DCI code err.receiver_id.invalid (IBR-HDR-005), also when the id is too long
    to be anyone's."""
    before = row_counts(ibr)
    reply = _post(ibr, SYNC_SEARCH, _search_with_header(ibr, receiver_id=receiver_id))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=400,
        code="err.receiver_id.invalid",
        mentions="header.receiver_id",
    )
    assert row_counts(ibr) == before


def test_overlong_sender_id_is_err_sender_id_invalid(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a sender_id that cannot be the token's client is reported as a schema
    fault (err.request.bad) instead of err.sender_id.invalid (IBR-SEC-005)."""
    reply = _post(ibr, SYNC_SEARCH, _search_with_header(ibr, sender_id="s" * 120))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=403,
        code="err.sender_id.invalid",
        mentions="header.sender_id",
    )


@pytest.mark.parametrize("signature", ["not-a-jws", "a.b.c"])
def test_malformed_signature_is_err_signature_invalid(
    ibr: Sandbox, openapi: OpenAPI, signature: str
) -> None:
    """If this fails, a signature that is not a detached JWS is reported as a schema fault
    (err.request.bad) instead of err.signature.invalid / err.signature.malformed (security
    profile section 3)."""
    envelope = _search_with_header(ibr)
    envelope["signature"] = signature
    reply = _post(ibr, SYNC_SEARCH, envelope)
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=401,
        code="err.signature.invalid",
        mentions="err.signature.malformed",
    )


@pytest.mark.parametrize("sender_uri", ["ftp://127.0.0.1/on-search", "not a uri"])
def test_malformed_sender_uri_is_err_sender_uri_invalid(
    ibr: Sandbox, openapi: OpenAPI, sender_uri: str
) -> None:
    """If this fails, a callback URL we will never call is reported as a schema fault
    (err.request.bad) instead of err.sender_uri.invalid (IBR-CB-002)."""
    before = row_counts(ibr)
    envelope = ibr.spmis.envelope("search", search_message("NID", "1"), sender_uri=sender_uri)
    reply = _post(ibr, ASYNC_SEARCH, envelope)
    _assert_err(
        openapi,
        ASYNC_SEARCH,
        reply,
        status=403,
        code="err.sender_uri.invalid",
        mentions="header.sender_uri",
    )
    assert row_counts(ibr) == before


def test_encrypted_flag_on_a_plain_message_is_err_encryption_invalid(
    ibr: Sandbox, openapi: OpenAPI
) -> None:
    """If this fails, a message that says it is encrypted but is not an EncryptedMessage is
    reported as err.request.bad instead of err.encryption.invalid (IBR-ENC-001)."""
    reply = _post(ibr, SYNC_SEARCH, _search_with_header(ibr, is_msg_encrypted=True))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=400,
        code="err.encryption.invalid",
        mentions="message",
    )


def test_other_schema_faults_stay_err_request_bad(ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, the precise-code mapping swallows ordinary schema faults, which must stay
    err.request.bad naming the field (IBR-ENV-004)."""
    reply = _post(ibr, SYNC_SEARCH, _search_with_header(ibr, total_count=-1))
    _assert_err(
        openapi,
        SYNC_SEARCH,
        reply,
        status=400,
        code="err.request.bad",
        mentions="total_count",
    )
