"""Our OAuth2 token endpoint for the IBR, and our public keys (security profile §1).

Every /registry callback the IBR sends us carries ``Authorization: Bearer`` with a token we
issued here to ``ibr_client_id`` [IBR-SEC-004]. The tokens are Ed25519 JWTs signed with a key
kept in ``state_dir`` (created on first start, mode 0600), so tokens stay valid across a
restart. Without ``ibr_client_secret`` nobody gets a token and every callback is refused: there
is no accept-anything mode [IBR-SEC-006].
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

import ibr_protocol as proto
from ibr_client.config import ClientConfig, load_jwk
from ibr_client.operations import CALLBACKS
from ibr_protocol.limits import RequestRefusedError, read_body_limited
from ibr_protocol.tokens import (
    NO_STORE_HEADERS,
    OAuthError,
    TokenService,
    read_token_request,
    token_response,
)

__all__ = [
    "CALLBACK_SCOPES",
    "TOKEN_LIFETIME_SECONDS",
    "TOKEN_PATH",
    "TokenEndpoint",
    "missing_secret_warning",
    "public_jwks",
    "token_service",
]

TOKEN_PATH = "/oauth2/client/token"  # noqa: S105 (a URL path, not a password)
TOKEN_LIFETIME_SECONDS = 900
CALLBACK_SCOPES = frozenset(callback.scope for callback in CALLBACKS.values())


def token_service(config: ClientConfig) -> TokenService:
    """The issuer of the IBR's tokens, with the signing key of ``state_dir``."""
    return TokenService(
        private_jwk=_token_key(config.token_key_path, config.sender_id),
        issuer=config.sender_id,
        lifetime_seconds=TOKEN_LIFETIME_SECONDS,
    )


def _token_key(path: Path, sender_id: str) -> dict[str, Any]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = proto.generate_signing_key(f"{sender_id}-tokens-{secrets.token_hex(4)}")
        try:
            # O_EXCL: two processes starting at once keep the first key; 0600 from the start.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(key))
    return load_jwk(path, "state_dir (token signing key)")


def public_jwks(config: ClientConfig) -> dict[str, Any]:
    """Our public message signing key and, when configured, our public encryption key."""
    keys: list[dict[str, Any]] = []
    signing = config.signing_key()
    if signing is not None:
        keys.append(dict(proto.public_jwk(signing)))
    if config.decryption_key_file is not None:
        keys.append(
            dict(proto.public_jwk(load_jwk(config.decryption_key_file, "decryption_key_file")))
        )
    return {"keys": keys}


class TokenEndpoint:
    """``POST /oauth2/client/token``: client-credentials grant for the IBR (RFC 6749 §4.4)."""

    def __init__(self, config: ClientConfig, tokens: TokenService) -> None:
        self._client_id = config.effective_ibr_client_id
        secret = config.ibr_client_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        self._tokens = tokens
        self._max_body_bytes = config.max_body_bytes
        self._max_json_depth = config.max_json_depth

    @property
    def configured(self) -> bool:
        return bool(self._secret)

    async def __call__(self, request: Request) -> JSONResponse:
        try:
            granted = await self._grant(request)
        except OAuthError as exc:
            return JSONResponse(
                exc.body(), status_code=exc.status_code, headers=exc.headers("ibr-client")
            )
        token = self._tokens.issue(client_id=self._client_id, scopes=granted, now=datetime.now(UTC))
        return JSONResponse(
            token_response(token, lifetime_seconds=self._tokens.lifetime_seconds, scopes=granted),
            headers=NO_STORE_HEADERS,
        )

    async def _grant(self, request: Request) -> frozenset[str]:
        try:
            body = await read_body_limited(
                request.headers.get("content-length"), request.stream(), self._max_body_bytes
            )
        except RequestRefusedError as exc:
            raise OAuthError("invalid_request", exc.message) from exc
        asked = read_token_request(
            content_type=request.headers.get("content-type"),
            body=body,
            authorization=request.headers.get("authorization"),
            max_depth=self._max_json_depth,
        )
        if not self._secret:
            raise OAuthError(
                "invalid_client",
                "this SP-MIS has no ibr_client_secret configured; it issues no tokens",
                status_code=401,
            )
        known_id = hmac.compare_digest(asked.client_id.encode(), self._client_id.encode())
        known_secret = hmac.compare_digest(asked.client_secret.encode(), self._secret)
        if not (known_id and known_secret):
            raise OAuthError("invalid_client", "unknown client or wrong secret", status_code=401)
        requested = asked.scopes if asked.scopes is not None else CALLBACK_SCOPES
        if not requested <= CALLBACK_SCOPES:
            raise OAuthError(
                "invalid_scope",
                f"scope(s) {sorted(requested - CALLBACK_SCOPES)} are not offered; "
                f"ask for some of {sorted(CALLBACK_SCOPES)}",
            )
        return requested


def missing_secret_warning(config: ClientConfig) -> str | None:
    """What to log at start when callbacks cannot be authenticated (None: they can)."""
    if config.ibr_client_secret is not None and config.ibr_client_secret.get_secret_value():
        return None
    return (
        "ibr_client_secret is not set: the token endpoint refuses everyone, so callbacks "
        "cannot be authenticated and every callback will be refused; set it (or "
        "IBR_CLIENT_IBR_CLIENT_SECRET) to the secret the IBR was given for this SP-MIS"
    )
