"""The suite's own OAuth2 token endpoints: the mock IBR's (sp-mis profile) and the callback
receiver's (ibr profile).

Tokens are Ed25519 JWTs (``ibr_protocol.tokens``) signed with a key derived from the
credentials, so a token the system under test cached during an earlier run with the same
settings still verifies, as it would at a real peer that kept its key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.requests import Request
from starlette.responses import JSONResponse

from ibr_protocol import IbrProtocolError
from ibr_protocol.tokens import (
    NO_STORE_HEADERS,
    AccessToken,
    OAuthError,
    TokenService,
    bearer_token,
    read_token_request,
    token_response,
)

__all__ = ["TOKEN_PATH", "SuiteTokenEndpoint"]

TOKEN_PATH = "/oauth2/client/token"  # noqa: S105 - a URL path, not a password
_MAX_BODY = 64 * 1024


def _derived_key(purpose: str, client_id: str, secret: str) -> dict[str, Any]:
    seed = hashlib.sha256(f"ibr-conformance-{purpose}\0{client_id}\0{secret}".encode()).digest()
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    raw_public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "d": b64(seed), "x": b64(raw_public), "kid": purpose}


class SuiteTokenEndpoint:
    """``POST /oauth2/client/token`` for one client (`endpoint` is the Starlette route handler)."""

    def __init__(
        self,
        *,
        purpose: str,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: Collection[str] = (),
        lifetime_seconds: int = 600,
    ) -> None:
        """`scopes`: what may be granted (empty: whatever is asked for)."""
        self.client_id = client_id
        self._secret = client_secret
        self._scopes = frozenset(scopes)
        self._tokens = TokenService(
            private_jwk=_derived_key(purpose, client_id, client_secret),
            issuer=issuer,
            lifetime_seconds=lifetime_seconds,
        )
        self.tokens_issued = 0

    async def endpoint(self, request: Request) -> JSONResponse:
        try:
            body = await request.body()
            if len(body) > _MAX_BODY:
                raise OAuthError("invalid_request", "the token request is too large")
            granted = self._grant(
                read_token_request(
                    content_type=request.headers.get("content-type"),
                    body=body,
                    authorization=request.headers.get("authorization"),
                    max_depth=8,
                )
            )
        except OAuthError as exc:
            return JSONResponse(exc.body(), exc.status_code, headers=exc.headers("conformance"))
        token = self._tokens.issue(client_id=self.client_id, scopes=granted, now=datetime.now(UTC))
        self.tokens_issued += 1
        return JSONResponse(
            token_response(token, lifetime_seconds=self._tokens.lifetime_seconds, scopes=granted),
            headers=NO_STORE_HEADERS,
        )

    def _grant(self, asked: Any) -> frozenset[str]:
        if not self._secret or (asked.client_id, asked.client_secret) != (
            self.client_id,
            self._secret,
        ):
            raise OAuthError("invalid_client", "unknown client or wrong secret", status_code=401)
        wanted = asked.scopes if asked.scopes is not None else self._scopes
        return wanted & self._scopes if self._scopes else wanted

    def validate(self, authorization: str | None) -> AccessToken:
        """The token of an Authorization header value; IbrProtocolError when it is not ours."""
        return self._tokens.validate(bearer_token(authorization), now=datetime.now(UTC))

    def problem(self, authorization: str | None) -> str | None:
        """Why the header carries no valid token we issued (None: it does)."""
        try:
            self.validate(authorization)
        except IbrProtocolError as exc:
            return f"Authorization: {exc}"
        return None
