"""The system under test, reached over HTTP only: auth, envelopes, signing, evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import httpx

from ibr_conformance.config import RunConfig
from ibr_conformance.errors import ConfigError, HarnessError
from ibr_conformance.profiles import Profile
from ibr_conformance.results import Exchange
from ibr_protocol import build_request, sign_envelope

__all__ = ["DEFAULT_TOKEN", "Client", "Target"]


class _Default(Enum):
    TOKEN = "default"  # noqa: S105 - a sentinel, not a secret


DEFAULT_TOKEN = _Default.TOKEN
"""Send the configured client's token (the default of `Target.send`)."""


class Client(Enum):
    """Which of the configured OAuth2 clients a request is sent as."""

    PRIMARY = "primary"
    SECOND = "second"
    """A client of another programme (for isolation checks)."""
    LIMITED = "limited"
    """A client without the scopes of the tested operations."""
    SIGNATURE_OPTIONAL = "signature-optional"
    """A client registered with signature policy optional (IBR-SIG-016)."""


class Target:
    """HTTP access to the system under test; every exchange goes to `recorder`."""

    def __init__(
        self,
        config: RunConfig,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.http = httpx.Client(
            timeout=config.timeout, transport=transport, headers=config.extra_headers
        )
        self.recorder: Callable[[Exchange], None] | None = None
        self._tokens: dict[Client, tuple[str, float]] = {}
        """who -> (token, monotonic time to fetch a new one)."""
        self._signing_key = self._load_signing_key(config.signing_key)

    @staticmethod
    def _load_signing_key(path: str) -> dict[str, Any] | None:
        if not path:
            return None
        try:
            key = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"signing_key {path}: cannot read a JWK ({exc})") from exc
        if not isinstance(key, dict) or "d" not in key:
            raise ConfigError(f"signing_key {path}: not a private JWK (no 'd' member)")
        return key

    @property
    def can_sign(self) -> bool:
        return self._signing_key is not None

    @property
    def signing_key(self) -> dict[str, Any] | None:
        return self._signing_key

    @property
    def signing_kid(self) -> str | None:
        return str(self._signing_key["kid"]) if self._signing_key else None

    def close(self) -> None:
        self.http.close()

    # -- authentication ---------------------------------------------------------------------

    def _credentials(self, who: Client) -> tuple[str, str]:
        c = self.config
        return {
            Client.PRIMARY: (c.effective_client_id(), c.client_secret),
            Client.SECOND: (c.second_client_id, c.second_client_secret),
            Client.LIMITED: (c.limited_client_id, c.limited_client_secret),
            Client.SIGNATURE_OPTIONAL: (
                c.optional_signature_client_id,
                c.optional_signature_client_secret,
            ),
        }[who]

    def client_id(self, who: Client = Client.PRIMARY) -> str:
        return self._credentials(who)[0]

    def has_client(self, who: Client) -> bool:
        if who is Client.PRIMARY and self.config.token:
            return True
        return all(self._credentials(who))

    def token_url(self) -> str:
        return self.config.token_url or f"{self.config.root_url()}/oauth2/client/token"

    def request_token(
        self,
        who: Client = Client.PRIMARY,
        *,
        scope: str = "",
        secret: str | None = None,
        as_json: bool = False,
    ) -> httpx.Response:
        """One client-credentials request to the token endpoint, answered as it comes."""
        client_id, configured_secret = self._credentials(who)
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": configured_secret if secret is None else secret,
        }
        if scope or self.config.scope:
            form["scope"] = scope or self.config.scope
        try:
            if as_json:
                return self.http.post(self.token_url(), json=form)
            return self.http.post(self.token_url(), data=form)
        except httpx.HTTPError as exc:
            raise HarnessError(f"token endpoint {self.token_url()} unreachable: {exc}") from exc

    def access_token(self, who: Client = Client.PRIMARY) -> str | None:
        """Bearer token of `who`: the fixed token, or one from client credentials (cached).

        sp-mis profile without a client_secret: None, so the callbacks go without a token and
        a receiver that demands one (as it must, IBR-SEC-004) refuses them visibly.
        """
        if who is Client.PRIMARY and self.config.token:
            return self.config.token
        cached, renew_at = self._tokens.get(who, ("", 0.0))
        if cached and time.monotonic() < renew_at:
            return cached
        client_id, secret = self._credentials(who)
        if not client_id or (self.config.profile is Profile.SP_MIS and not secret):
            return None
        resp = self.request_token(who)
        if resp.status_code != 200 or "access_token" not in resp.text:
            raise HarnessError(
                f"token endpoint {self.token_url()} refused client {client_id!r}: "
                f"HTTP {resp.status_code} {resp.text[:200]}"
            )
        body = resp.json()
        token = str(body["access_token"])
        try:
            lifetime = float(body.get("expires_in", 300))
        except (TypeError, ValueError):
            lifetime = 300.0
        # Renew with a margin: a long run (fuzzing) must not send a token about to expire.
        self._tokens[who] = (token, time.monotonic() + lifetime - min(30.0, lifetime / 2))
        return token

    # -- messages ---------------------------------------------------------------------------

    def envelope(
        self,
        action: str,
        message: Mapping[str, Any],
        *,
        sender_uri: str | None = None,
        sign: bool = True,
        sender_id: str | None = None,
        who: Client = Client.PRIMARY,
    ) -> dict[str, Any]:
        """A canonical request envelope from us, signed when a signing key is configured."""
        default_sender = (
            self.config.effective_sender_id()
            if who is Client.PRIMARY
            else self._credentials(who)[0]
        )
        env = build_request(
            action=action,
            message=dict(message),
            sender_id=sender_id or default_sender,
            receiver_id=self.config.receiver_id,
            sender_uri=sender_uri,
        )
        return self.sign(env) if sign else env

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        if self._signing_key is None:
            return envelope
        return sign_envelope(envelope, self._signing_key)

    # -- transport --------------------------------------------------------------------------

    def send(
        self,
        operation: str,
        body: Any,
        *,
        token: str | _Default | None = DEFAULT_TOKEN,
        who: Client = Client.PRIMARY,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        note: str = "",
    ) -> Exchange:
        """POST `body` (or `raw` bytes) to a registry operation and record the exchange."""
        return self.post_url(
            self.config.operation_url(operation),
            body,
            token=token,
            who=who,
            headers=headers,
            raw=raw,
            note=note,
        )

    def post_url(
        self,
        url: str,
        body: Any,
        *,
        token: str | _Default | None = DEFAULT_TOKEN,
        who: Client = Client.PRIMARY,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        note: str = "",
    ) -> Exchange:
        bearer = self.access_token(who) if token is DEFAULT_TOKEN else token
        req_headers = {"content-type": "application/json", **(headers or {})}
        if bearer:
            req_headers["authorization"] = f"Bearer {bearer}"
        content = raw if raw is not None else json.dumps(body).encode()
        started = time.perf_counter()
        try:
            resp = self.http.post(url, content=content, headers=req_headers)
        except httpx.TimeoutException as exc:
            raise HarnessError(f"POST {url} timed out after {self.config.timeout}s") from exc
        except httpx.HTTPError as exc:
            raise HarnessError(f"POST {url} failed: {exc}") from exc
        elapsed = (time.perf_counter() - started) * 1000
        exchange = Exchange.build(
            method="POST",
            url=url,
            request_headers=dict(self.http.headers) | req_headers,
            request_body=body if raw is None else f"<{len(raw)} raw bytes>",
            status=resp.status_code,
            response_headers=dict(resp.headers),
            response_body=_parse(resp),
            elapsed_ms=elapsed,
            note=note,
        )
        if self.recorder:
            self.recorder(exchange)
        return exchange

    def get_json(self, url: str) -> Any:
        try:
            resp = self.http.get(url)
            resp.raise_for_status()
            return resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise HarnessError(f"GET {url} failed: {exc}") from exc


def _parse(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text
