"""Access tokens (security profile §1): issue, validate, scope, bearer header, caller cache."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ibr_protocol import ErrorCode, generate_signing_key
from ibr_protocol.tokens import (
    NO_STORE_HEADERS,
    AccessTokenError,
    OAuthError,
    TokenCache,
    TokenEndpointError,
    TokenRequest,
    TokenScopeError,
    TokenService,
    bearer_token,
    read_token_request,
    token_response,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _service(issuer: str = "sp-mis-1", lifetime: int = 60) -> TokenService:
    return TokenService(
        private_jwk=generate_signing_key("tok-1"), issuer=issuer, lifetime_seconds=lifetime
    )


def test_issued_token_validates_with_its_client_and_scopes() -> None:
    tokens = _service()
    token = tokens.issue(client_id="ibr", scopes=["registry.notify"], now=NOW)
    got = tokens.validate(token, now=NOW + timedelta(seconds=30))
    assert (got.client_id, got.scopes) == ("ibr", frozenset({"registry.notify"}))
    got.require_scope("registry.notify")
    with pytest.raises(TokenScopeError) as refused:
        got.require_scope("registry.on-search")
    assert refused.value.code is ErrorCode.REQUEST_FORBIDDEN


@pytest.mark.parametrize(
    ("make", "when"),
    [
        (lambda t: t.issue(client_id="ibr", scopes=[], now=NOW), 60),  # expired at exp
        (lambda t: _service().issue(client_id="ibr", scopes=[], now=NOW), 1),  # other key
        (lambda t: _service(issuer="x").issue(client_id="ibr", scopes=[], now=NOW), 1),
        (lambda t: "not.a.jwt", 1),
        (lambda t: "", 1),
        (lambda t: "eyJhbGciOiJub25lIn0.e30.", 1),
    ],
    ids=["expired", "forged", "other-issuer", "malformed", "empty", "alg-none"],
)
def test_bad_tokens_are_unauthorized(make: object, when: int) -> None:
    tokens = _service()
    token = make(tokens)  # type: ignore[operator]
    with pytest.raises(AccessTokenError) as refused:
        tokens.validate(token, now=NOW + timedelta(seconds=when))
    assert refused.value.code is ErrorCode.REQUEST_UNAUTHORIZED


def test_tokens_of_another_issuer_with_the_same_key_are_refused() -> None:
    key = generate_signing_key("shared")
    ibr = TokenService(private_jwk=key, issuer="ibr", lifetime_seconds=60)
    sp_mis = TokenService(private_jwk=key, issuer="sp-mis", lifetime_seconds=60)
    with pytest.raises(AccessTokenError, match="'iss'"):
        sp_mis.validate(ibr.issue(client_id="c", scopes=[], now=NOW), now=NOW)


@pytest.mark.parametrize("value", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bearer_header_must_carry_a_token(value: str | None) -> None:
    with pytest.raises(AccessTokenError, match="Bearer"):
        bearer_token(value)


def test_bearer_header_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def") == "abc.def"


def _answer(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_cache_keeps_a_token_until_shortly_before_it_expires() -> None:
    clock = [0.0]
    cache = TokenCache("http://sp/token", "ibr", "s3cret", clock=lambda: clock[0])
    assert cache.current() is None
    assert cache.request_form()["grant_type"] == "client_credentials"
    # DCI types expires_in as a string.
    assert cache.accept(_answer(200, {"access_token": "t1", "expires_in": "100"})) == "t1"
    clock[0] = 69.0
    assert cache.current() == "t1"
    clock[0] = 70.0  # 30 s margin
    assert cache.current() is None


def test_cache_forgets_an_invalidated_token() -> None:
    cache = TokenCache("http://sp/token", "ibr", "s")
    cache.accept(_answer(200, {"access_token": "t1", "expires_in": 3600}))
    cache.invalidate()
    assert cache.current() is None


@pytest.mark.parametrize(
    ("status", "body", "refused"),
    [
        (401, {"error": "invalid_client"}, True),
        (404, {}, False),
        (500, {}, False),
        (200, {"token_type": "Bearer"}, False),
        (200, {"access_token": ""}, False),
    ],
)
def test_cache_explains_a_failed_token_request(status: int, body: object, refused: bool) -> None:
    cache = TokenCache("http://sp/token", "ibr", "s")
    with pytest.raises(TokenEndpointError, match="http://sp/token") as failed:
        cache.accept(_answer(status, body))
    assert failed.value.refused is refused
    assert cache.current() is None


def _read(content_type: str, body: bytes, authorization: str | None = None) -> TokenRequest:
    return read_token_request(
        content_type=content_type, body=body, authorization=authorization, max_depth=8
    )


def test_token_request_is_read_from_a_form_json_or_http_basic() -> None:
    form = _read(
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials&client_id=ibr&client_secret=s&scope=a+b",
    )
    assert (form.client_id, form.client_secret, form.scopes) == ("ibr", "s", frozenset("ab"))
    as_json = _read(
        "application/json; charset=utf-8",
        b'{"grant_type": "client_credentials", "client_id": "ibr", "client_secret": "s"}',
    )
    assert (as_json.client_id, as_json.scopes) == ("ibr", None)
    basic = _read(
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials",
        "Basic " + base64.b64encode(b"ibr:s").decode(),
    )
    assert (basic.client_id, basic.client_secret) == ("ibr", "s")


@pytest.mark.parametrize(
    ("content_type", "body", "authorization", "error", "status"),
    [
        ("text/plain", b"grant_type=client_credentials", None, "invalid_request", 400),
        ("application/json", b'{"grant_type": ', None, "invalid_request", 400),
        ("application/json", b"[]", None, "invalid_request", 400),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=password",
            None,
            "unsupported_grant_type",
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials",
            None,
            "invalid_request",
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials",
            "Basic %%%",
            "invalid_client",
            401,
        ),
    ],
)
def test_bad_token_requests_get_the_rfc_6749_error(
    content_type: str, body: bytes, authorization: str | None, error: str, status: int
) -> None:
    with pytest.raises(OAuthError) as refused:
        _read(content_type, body, authorization)
    assert (refused.value.error, refused.value.status_code) == (error, status)
    headers = refused.value.headers("x")
    assert headers["Cache-Control"] == "no-store"
    assert ("WWW-Authenticate" in headers) is (status == 401)


def test_token_response_has_the_rfc_6749_members() -> None:
    body = token_response("t", lifetime_seconds=900, scopes=["b", "a"])
    assert body == {"access_token": "t", "token_type": "Bearer", "expires_in": 900, "scope": "a b"}
    assert NO_STORE_HEADERS["Cache-Control"] == "no-store"
