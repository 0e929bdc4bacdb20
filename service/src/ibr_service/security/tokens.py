"""OAuth2 client-credentials access tokens: JWTs signed by the IBR's token key (joserfc)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from ibr_service.security.errors import AuthenticationError, ForbiddenError

__all__ = ["AccessToken", "TokenService"]

_ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class AccessToken:
    """A validated bearer token."""

    client_id: str
    scopes: frozenset[str]
    expires_at: int
    token_id: str

    def require_scope(self, scope: str) -> None:
        """Raise ``ForbiddenError`` unless the token carries ``scope``."""
        if scope not in self.scopes:
            raise ForbiddenError(
                f"the access token lacks scope {scope!r} "
                f"(it has: {', '.join(sorted(self.scopes)) or 'none'})",
                field="Authorization",
                reason="err.token.scope",
            )


class TokenService:
    """Issues and validates access tokens."""

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
        """The token's client and scopes; ``AuthenticationError`` if forged, expired, malformed."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[_ALGORITHM])
        except JoseError as exc:
            raise AuthenticationError(
                f"bearer token rejected: {exc.description or exc.error}",
                reason="err.token.invalid",
            ) from exc
        except ValueError as exc:  # malformed compact serialisation or JSON
            raise AuthenticationError(
                f"bearer token is not a valid JWT: {exc}", reason="err.token.invalid"
            ) from exc
        claims = decoded.claims
        # Claims are checked here against the injected clock (joserfc's registry reads time.time).
        for name, expected in (("iss", self._issuer), ("aud", self._issuer)):
            if claims.get(name) != expected:
                raise AuthenticationError(
                    f"bearer token claim {name!r} is not {expected!r}",
                    reason="err.token.invalid",
                )
        if not claims.get("sub") or not claims.get("jti"):
            raise AuthenticationError(
                "bearer token lacks 'sub' or 'jti'", reason="err.token.invalid"
            )
        expires_at, not_before = claims.get("exp"), claims.get("nbf", 0)
        moment = int(now.timestamp())
        if not isinstance(expires_at, int) or expires_at <= moment:
            raise AuthenticationError(
                "bearer token has expired; request a new one at /oauth2/client/token",
                reason="err.token.invalid",
            )
        if not isinstance(not_before, int) or not_before > moment + 60:
            raise AuthenticationError(
                "bearer token is not valid yet (nbf)", reason="err.token.invalid"
            )
        return AccessToken(
            client_id=str(claims["sub"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=int(claims["exp"]),
            token_id=str(claims["jti"]),
        )
