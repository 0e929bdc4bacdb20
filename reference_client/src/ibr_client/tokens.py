"""OAuth2 client-credentials tokens (RFC 6749 section 4.4), as the DCI authz API describes.

The token is fetched on first use and again shortly before it expires, or when the IBR answers
401. The HTTP call itself is done by the sync or async client; this module only builds the
request and reads the answer, so both share one implementation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ibr_client.errors import AuthError, ResponseInvalidError

__all__ = ["Token", "TokenCache"]

_REFRESH_MARGIN_SECONDS = 30.0
_DEFAULT_LIFETIME_SECONDS = 300.0


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float


class TokenCache:
    """Holds the current bearer token and says when a new one is needed."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token: Token | None = None

    def current(self) -> str | None:
        """The cached token, or None when there is none or it is about to expire."""
        if self._token is None or self._clock() >= self._token.expires_at:
            return None
        return self._token.access_token

    def invalidate(self) -> None:
        self._token = None

    def request_form(self) -> dict[str, str]:
        """The form body of the token request."""
        return {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }

    def accept(self, response: httpx.Response) -> str:
        """Read the token endpoint's answer, cache the token and return it."""
        if response.status_code in (400, 401, 403):
            raise AuthError(
                f"the IBR token endpoint {self.token_url} refused client_id "
                f"{self._client_id!r} (HTTP {response.status_code}); check client_id and "
                "client_secret, and that the client is registered at the IBR"
            )
        if response.status_code == 404:
            raise AuthError(
                f"no token endpoint at {self.token_url} (HTTP 404); set token_url to the "
                "IBR's OAuth2 client-credentials endpoint"
            )
        if response.status_code >= 400:
            raise AuthError(
                f"the IBR token endpoint {self.token_url} failed with HTTP {response.status_code}"
            )
        try:
            body = response.json()
            access_token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            raise ResponseInvalidError(
                "token response", "no access_token in the JSON body"
            ) from None
        if not isinstance(access_token, str) or not access_token:
            raise ResponseInvalidError("token response", "access_token is not a non-empty string")
        # DCI types expires_in as a string; RFC 6749 as a number. Accept both.
        try:
            lifetime = float(body.get("expires_in", _DEFAULT_LIFETIME_SECONDS))
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME_SECONDS
        margin = min(_REFRESH_MARGIN_SECONDS, lifetime / 2)
        self._token = Token(access_token, self._clock() + lifetime - margin)
        return access_token
