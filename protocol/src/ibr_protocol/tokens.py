"""OAuth2 client-credentials access tokens (security profile §1), for both sides of the wire.

Every receiver runs ``POST /oauth2/client/token`` for the systems that call it: the IBR for
SP-MIS clients, each SP-MIS for the IBR's callbacks and notifications [IBR-SEC-002..004].

- :class:`TokenService` issues and validates the receiver's tokens: Ed25519 JWTs (joserfc) with
  ``iss``/``aud`` (the issuer's id), ``sub`` (the client, which must equal ``header.sender_id``),
  ``iat``, ``nbf``, ``exp``, ``jti`` and ``scope``.
- :func:`read_token_request` and :func:`token_response` are the token endpoint's wire format
  (RFC 6749 §4.4 and §5.2), for whatever web framework hosts it.
- :func:`bearer_token` reads ``Authorization: Bearer <token>``.
- :class:`TokenCache` is the caller's side, sans I/O: it builds the token request, reads the
  answer and says when a new token is needed; the caller does the HTTP with its own client.

Token errors carry DCI codes: 401 ``err.request.unauthorized`` (reason ``err.token.invalid``)
and 403 ``err.request.forbidden`` (reason ``err.token.scope``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from ibr_protocol.errors import ErrorCode, IbrProtocolError
from ibr_protocol.limits import RequestRefusedError, parse_json_limited

__all__ = [
    "NO_STORE_HEADERS",
    "AccessToken",
    "AccessTokenError",
    "OAuthError",
    "TokenCache",
    "TokenEndpointError",
    "TokenRequest",
    "TokenScopeError",
    "TokenService",
    "bearer_token",
    "read_token_request",
    "token_response",
]

_ALGORITHM = "Ed25519"
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Headers of every token endpoint answer (RFC 6749 §5.1)."""
_REFRESH_MARGIN_SECONDS = 30.0
_DEFAULT_LIFETIME_SECONDS = 300.0


class AccessTokenError(IbrProtocolError):
    """The bearer token is missing, malformed, forged or expired (HTTP 401)."""

    default_code = ErrorCode.REQUEST_UNAUTHORIZED

    def __init__(self, message: str, *, reason: str = "err.token.invalid") -> None:
        super().__init__(message, reason=reason, field="Authorization")


class TokenScopeError(IbrProtocolError):
    """The token is valid but lacks the operation's scope (HTTP 403)."""

    default_code = ErrorCode.REQUEST_FORBIDDEN

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="err.token.scope", field="Authorization")


class TokenEndpointError(Exception):
    """The caller could not get a token: refused credentials, no endpoint, or a bad answer.

    ``refused`` is True when the endpoint turned the credentials down (HTTP 400/401/403).
    """

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessTokenError(
            "missing 'Authorization: Bearer <access_token>' header; get a token at "
            "/oauth2/client/token"
        )
    return token.strip()


@dataclass(frozen=True)
class AccessToken:
    """A validated bearer token."""

    client_id: str
    scopes: frozenset[str]
    expires_at: int
    token_id: str

    def require_scope(self, scope: str) -> None:
        """Raise :class:`TokenScopeError` unless the token carries ``scope``."""
        if scope not in self.scopes:
            raise TokenScopeError(
                f"the access token lacks scope {scope!r} "
                f"(it has: {', '.join(sorted(self.scopes)) or 'none'})"
            )


class TokenService:
    """Issues and validates the access tokens of one issuer."""

    def __init__(self, *, private_jwk: dict[str, Any], issuer: str, lifetime_seconds: int) -> None:
        # The key's own "alg" (EdDSA or Ed25519) is dropped: tokens always use Ed25519 (RFC 9864).
        self._key = OKPKey.import_key({k: v for k, v in private_jwk.items() if k != "alg"})
        self._kid = str(private_jwk.get("kid", ""))
        self._issuer = issuer
        self._lifetime = lifetime_seconds

    @property
    def lifetime_seconds(self) -> int:
        return self._lifetime

    def issue(self, *, client_id: str, scopes: Iterable[str], now: datetime) -> str:
        """A signed token for ``client_id`` carrying ``scopes``, valid for the lifetime."""
        issued = int(now.timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._issuer,
            "sub": client_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self._lifetime,
            "jti": secrets.token_hex(16),
            "scope": " ".join(sorted(scopes)),
        }
        header = {"alg": _ALGORITHM, "kid": self._kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self._key, algorithms=[_ALGORITHM])

    def validate(self, token: str, *, now: datetime) -> AccessToken:
        """The token's client and scopes; AccessTokenError if forged, expired or malformed."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALGORITHM])
        except JoseError as exc:
            raise AccessTokenError(
                f"bearer token rejected: {exc.description or exc.error}"
            ) from exc
        except ValueError as exc:  # malformed compact serialisation or JSON
            raise AccessTokenError(f"bearer token is not a valid JWT: {exc}") from exc
        claims = decoded.claims
        # Claims are checked here against the injected clock (joserfc's registry reads time.time).
        for name in ("iss", "aud"):
            if claims.get(name) != self._issuer:
                raise AccessTokenError(f"bearer token claim {name!r} is not {self._issuer!r}")
        if not claims.get("sub") or not claims.get("jti"):
            raise AccessTokenError("bearer token lacks 'sub' or 'jti'")
        expires_at, not_before = claims.get("exp"), claims.get("nbf", 0)
        moment = int(now.timestamp())
        if not isinstance(expires_at, int) or expires_at <= moment:
            raise AccessTokenError(
                "bearer token has expired; request a new one at /oauth2/client/token"
            )
        if not isinstance(not_before, int) or not_before > moment + 60:
            raise AccessTokenError("bearer token is not valid yet (nbf)")
        return AccessToken(
            client_id=str(claims["sub"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=expires_at,
            token_id=str(claims["jti"]),
        )


class OAuthError(Exception):
    """An RFC 6749 §5.2 error of a token endpoint (``invalid_request``, ``invalid_client``, ...)."""

    def __init__(self, error: str, description: str, *, status_code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def headers(self, realm: str) -> dict[str, str]:
        # A 401 invalid_client answer carries WWW-Authenticate (RFC 6749 §5.2).
        challenge = (
            {"WWW-Authenticate": f'Basic realm="{realm}"'} if self.status_code == 401 else {}
        )
        return {**NO_STORE_HEADERS, **challenge}


@dataclass(frozen=True)
class TokenRequest:
    """A well-formed client-credentials request; the caller still checks the credentials."""

    client_id: str
    client_secret: str
    scopes: frozenset[str] | None
    """The scopes asked for; None when the request names none (grant the client's default)."""


def read_token_request(
    *, content_type: str | None, body: bytes, authorization: str | None, max_depth: int
) -> TokenRequest:
    """Read a token request: form-encoded (DCI) or JSON; credentials in it or as HTTP Basic."""
    fields = _token_fields(content_type, body, max_depth)
    if fields.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be 'client_credentials'")
    client_id, client_secret = _credentials(authorization, fields)
    scope = fields.get("scope")
    scopes = frozenset(str(scope).split()) if scope else None
    return TokenRequest(client_id, client_secret, scopes)


def token_response(
    access_token: str, *, lifetime_seconds: int, scopes: Iterable[str]
) -> dict[str, Any]:
    """The body of a successful token answer (send it with :data:`NO_STORE_HEADERS`)."""
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime_seconds,
        "scope": " ".join(sorted(scopes)),
    }


def _token_fields(content_type: str | None, body: bytes, max_depth: int) -> dict[str, Any]:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            data = parse_json_limited(body, max_depth=max_depth)
        except RequestRefusedError as exc:
            raise OAuthError("invalid_request", exc.message) from exc
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "the JSON body must be an object")
        return data
    if media_type == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=8))
        except (UnicodeDecodeError, ValueError) as exc:
            raise OAuthError("invalid_request", f"the form body cannot be read: {exc}") from exc
    raise OAuthError(
        "invalid_request",
        "send application/x-www-form-urlencoded (or application/json) with grant_type, "
        "client_id and client_secret",
    )


def _credentials(authorization: str | None, fields: dict[str, Any]) -> tuple[str, str]:
    header = (authorization or "").strip()
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError(
                "invalid_client", "malformed HTTP Basic credentials", status_code=401
            ) from exc
        basic_id, _, basic_secret = decoded.partition(":")
        return basic_id, basic_secret
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise OAuthError(
            "invalid_request", "client_id and client_secret are required (body or HTTP Basic)"
        )
    return client_id, client_secret


@dataclass(frozen=True)
class _Cached:
    access_token: str
    expires_at: float


class TokenCache:
    """The caller's current bearer token for one token endpoint, and when to fetch a new one.

    Fetch on first use, shortly before expiry, and after the receiver answered 401
    (:meth:`invalidate`). ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token: _Cached | None = None

    def current(self) -> str | None:
        """The cached token, or None when there is none or it is about to expire."""
        if self._token is None or self._clock() >= self._token.expires_at:
            return None
        return self._token.access_token

    def invalidate(self) -> None:
        self._token = None

    def request_form(self) -> dict[str, str]:
        """The form body of the token request (``application/x-www-form-urlencoded``)."""
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }

    def accept(self, response: httpx.Response) -> str:
        """Read the token endpoint's answer, cache the token and return it."""
        status = response.status_code
        if status in (400, 401, 403):
            raise TokenEndpointError(
                f"the token endpoint {self.token_url} refused client_id {self.client_id!r} "
                f"(HTTP {status}); check client_id and client_secret, and that the client is "
                "registered there",
                refused=True,
            )
        if status == 404:
            raise TokenEndpointError(
                f"no token endpoint at {self.token_url} (HTTP 404); set the token URL to the "
                "receiver's OAuth2 client-credentials endpoint",
                refused=False,
            )
        if status >= 400:
            raise TokenEndpointError(
                f"the token endpoint {self.token_url} failed with HTTP {status}", refused=False
            )
        try:
            body = response.json()
            access_token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            raise TokenEndpointError(
                f"the token endpoint {self.token_url} answered without an access_token",
                refused=False,
            ) from None
        if not isinstance(access_token, str) or not access_token:
            raise TokenEndpointError(
                f"the token endpoint {self.token_url}: access_token is not a non-empty string",
                refused=False,
            )
        # DCI types expires_in as a string; RFC 6749 as a number. Accept both.
        try:
            lifetime = float(body.get("expires_in", _DEFAULT_LIFETIME_SECONDS))
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME_SECONDS
        margin = min(_REFRESH_MARGIN_SECONDS, lifetime / 2)
        self._token = _Cached(access_token, self._clock() + lifetime - margin)
        return access_token
