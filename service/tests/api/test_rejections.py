"""Every invalid request gets the spec's ERR with the exact DCI code, a message naming the field,
an HTTP status per spec/openapi.yaml, and writes nothing."""

from __future__ import annotations

import copy
from datetime import timedelta

import httpx
import pytest
from openapi_core import OpenAPI

from ibr_protocol import generate_signing_key, sign_envelope
from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request
from ibr_protocol.tokens import TokenService
from ibr_service.cli.demo import builtin_beneficiaries
from ibr_service.cli.sandbox import Sandbox
from ibr_service.cli.spmis import (
    ScriptedSpMis,
    enrollment_message,
    expression_search_message,
    search_message,
)
from ibr_service.security.clients import SCOPE_SEARCH, register_client

from .conftest import assert_matches_openapi, row_counts

ENROLL = "/registry/sync/enrollment/updates"


def _assert_err(
    openapi: OpenAPI, path: str, reply: httpx.Response, status: int, code: str, mentions: str
) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()["message"]
    assert body["ack_status"] == "ERR"
    assert body["error"]["code"] == code, body
    assert mentions in body["error"]["message"], body["error"]["message"]
    assert_matches_openapi(openapi, path, reply)


def _batch_envelope(box: Sandbox) -> dict[str, object]:
    return box.spmis.envelope("notify", enrollment_message(builtin_beneficiaries()))


def _post(box: Sandbox, path: str, body: object, *, token: str | None = None) -> httpx.Response:
    return box.spmis.http.post(
        f"{box.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token or box.spmis.token()}"},
    )


def test_forged_token_is_rejected_and_writes_nothing(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a token minted with someone else's key is accepted."""
    ibr = any_ibr
    forged = TokenService(
        private_jwk=generate_signing_key("attacker"), issuer="IBR", lifetime_seconds=300
    ).issue(client_id=ibr.spmis.sender_id, scopes=[SCOPE_SEARCH], now=utc_now())
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, _batch_envelope(ibr), token=forged)
    _assert_err(openapi, ENROLL, reply, 401, "err.request.unauthorized", "err.token.invalid")
    assert row_counts(ibr) == before


def test_missing_token_is_rejected(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, the API is open to anyone without credentials."""
    ibr = any_ibr
    reply = ibr.spmis.http.post(f"{ibr.url}{ENROLL}", json=_batch_envelope(ibr))
    _assert_err(openapi, ENROLL, reply, 401, "err.request.unauthorized", "Authorization")


def test_token_without_the_scope_is_forbidden(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a search-only client can publish enrolments."""
    ibr = any_ibr
    reply = ibr.spmis.http.post(
        f"{ibr.url}/oauth2/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ibr.spmis.sender_id,
            "client_secret": ibr.spmis.client_secret,
            "scope": SCOPE_SEARCH,
        },
    )
    search_only = reply.json()["access_token"]
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, _batch_envelope(ibr), token=search_only)
    _assert_err(openapi, ENROLL, reply, 403, "err.request.forbidden", "err.token.scope")
    assert row_counts(ibr) == before


def test_bad_signature_is_rejected_and_writes_nothing(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a message altered after signing is accepted."""
    ibr = any_ibr
    envelope = _batch_envelope(ibr)
    tampered = copy.deepcopy(envelope)
    tampered["message"]["enrolled_updates"]["beneficiaries"][0]["programme_identifier"][0][  # type: ignore[index]
        "enrolment_status"
    ] = "2"
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, tampered)
    _assert_err(openapi, ENROLL, reply, 401, "err.signature.invalid", "err.signature.mismatch")
    assert row_counts(ibr) == before


def test_unsigned_request_is_rejected_in_strict_mode(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, strict mode (the default) lets unsigned messages in."""
    ibr = any_ibr
    unsigned = ibr.spmis.envelope("notify", enrollment_message(builtin_beneficiaries()), sign=False)
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, unsigned)
    _assert_err(openapi, ENROLL, reply, 401, "err.signature.missing", "signature")
    assert row_counts(ibr) == before


def test_replayed_message_is_rejected_and_writes_nothing(
    any_ibr: Sandbox, openapi: OpenAPI
) -> None:
    """If this fails, a captured request can be replayed to repeat its effect."""
    ibr = any_ibr
    envelope = _batch_envelope(ibr)
    assert _post(ibr, ENROLL, envelope).status_code == 200
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, envelope)
    _assert_err(openapi, ENROLL, reply, 400, "err.request.bad", "err.message_id.duplicate")
    assert row_counts(ibr) == before


def test_stale_message_ts_is_rejected(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, an old signed message (outside the time window) is accepted."""
    ibr = any_ibr
    envelope = build_request(
        action="notify",
        message=enrollment_message(builtin_beneficiaries()),
        sender_id=ibr.spmis.sender_id,
        receiver_id="IBR",
        now=utc_now() - timedelta(hours=1),
    )
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, sign_envelope(envelope, ibr.spmis.private_jwk))
    _assert_err(openapi, ENROLL, reply, 400, "err.request.bad", "err.message_ts.invalid")
    assert row_counts(ibr) == before


def test_sender_id_must_be_the_token_client(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, one SP-MIS can speak in another's name."""
    ibr = any_ibr
    envelope = build_request(
        action="notify",
        message=enrollment_message(builtin_beneficiaries()),
        sender_id="someone.else",
        receiver_id="IBR",
    )
    reply = _post(ibr, ENROLL, sign_envelope(envelope, ibr.spmis.private_jwk))
    _assert_err(openapi, ENROLL, reply, 403, "err.sender_id.invalid", "header.sender_id")


def test_callback_to_private_address_is_refused(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, an SP-MIS can make the IBR call into private networks (SSRF)."""
    ibr = any_ibr
    spmis = ScriptedSpMis(base_url=ibr.url, sender_id="public.spmis", client_secret="")
    _, spmis.client_secret = register_client(
        ibr.host.store,
        sender_id="public.spmis",
        now=utc_now(),
        public_keys=[spmis.public_jwk],
        allowed_callback_hosts=["127.0.0.1:9", "10.0.0.5:80"],
        allow_private_callbacks=False,
    )
    before = row_counts(ibr)
    for target in ("http://127.0.0.1:9/on-search", "http://10.0.0.5/on-search"):
        reply = spmis.send(
            "/registry/search", "search", search_message("NID", "1"), sender_uri=target
        )
        _assert_err(
            openapi, "/registry/search", reply, 403, "err.sender_uri.invalid", "header.sender_uri"
        )
    assert row_counts(ibr) == before
    spmis.http.close()


def test_oversized_body_is_rejected_and_writes_nothing(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a client can exhaust memory with one huge request."""
    ibr = any_ibr
    limit = ibr.host.settings.max_body_bytes
    many = builtin_beneficiaries() * (limit // 500)
    envelope = ibr.spmis.envelope("notify", enrollment_message(many))
    before = row_counts(ibr)
    reply = _post(ibr, ENROLL, envelope)
    _assert_err(openapi, ENROLL, reply, 413, "err.request.bad", "err.request.too_large")
    assert row_counts(ibr) == before


def test_deeply_nested_json_is_rejected(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, a hostile nesting reaches the parser and validators."""
    ibr = any_ibr
    body = b'{"header":' + b"[" * 500 + b"]" * 500 + b"}"
    reply = ibr.spmis.http.post(
        f"{ibr.url}{ENROLL}",
        content=body,
        headers={
            "Authorization": f"Bearer {ibr.spmis.token()}",
            "Content-Type": "application/json",
        },
    )
    _assert_err(openapi, ENROLL, reply, 400, "err.request.bad", "deeper than")


def test_wrong_content_type_is_rejected(any_ibr: Sandbox, openapi: OpenAPI) -> None:
    """If this fails, non-JSON bodies are half-parsed instead of refused with 415."""
    ibr = any_ibr
    reply = ibr.spmis.http.post(
        f"{ibr.url}/registry/sync/search",
        content=b"<xml/>",
        headers={"Authorization": f"Bearer {ibr.spmis.token()}", "Content-Type": "text/xml"},
    )
    _assert_err(
        openapi, "/registry/sync/search", reply, 415, "err.request.bad", "err.request.media_type"
    )


INJECTIONS: list[tuple[str, str, object]] = [
    ("value", "given_name", "x' OR '1'='1"),
    ("value-drop", "given_name", "'; DROP TABLE subjects; --"),
    ("attribute", "given_name = '' OR 1=1 --", "x"),
    ("operator", "given_name", "x"),
]


@pytest.mark.parametrize(("case", "attribute", "value"), INJECTIONS, ids=[c[0] for c in INJECTIONS])
def test_expression_query_carrying_sql_is_harmless(
    any_ibr: Sandbox, openapi: OpenAPI, case: str, attribute: str, value: object
) -> None:
    """If this fails, query text reaches SQL: rows leak or tables change."""
    ibr = any_ibr
    assert _post(ibr, ENROLL, _batch_envelope(ibr)).status_code == 200
    before = row_counts(ibr, data_only=True)
    operator = "eq' OR 1=1 --" if case == "operator" else "eq"
    message = expression_search_message(attribute, operator, value)
    reply = ibr.spmis.send("/registry/sync/search", "search", message)
    assert_matches_openapi(openapi, "/registry/sync/search", reply)
    body = reply.json()["message"]
    if reply.status_code == 200:
        item = body["search_response"][0]
        records = item.get("data", {}).get("reg_records", [])
        if case.startswith("value"):
            assert item["status"] == "succ", item
            assert records == [], item
        else:
            assert item["status"] == "rjct", item
            assert item["status_reason_code"] == "rjct.search_criteria.invalid", item
    else:
        assert reply.status_code == 400
        assert body["error"]["code"] == "err.request.bad"
    assert row_counts(ibr, data_only=True) == before


def test_token_request_with_broken_json_gets_the_oauth_error(any_ibr: Sandbox) -> None:
    """RFC 6749 §5.2: the token endpoint answers with its own error body, never an ERR ACK."""
    reply = any_ibr.spmis.http.post(
        f"{any_ibr.url}/oauth2/client/token",
        content=b'{"grant_type": ',
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"
