"""The built-in callback receiver: an HTTP server on loopback that records every callback.

Schemathesis does not test callbacks; the scenarios do, through this receiver. It answers each
callback with a spec ACK and keeps the body for validation against spec/. With a
`callback_client_secret` it also plays the SP-MIS's token endpoint for the IBR (security profile
§1): the IBR fetches a token there and must send it on every callback, which a check verifies
(IBR-SEC-004). The receiver never refuses a callback itself, so that a missing token is reported
by that check naming the requirement, not as lost callbacks in every scenario.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ibr_conformance.background import BackgroundServer, free_port
from ibr_protocol import IbrProtocolError, ack
from ibr_protocol.tokens import TokenService, bearer_token

__all__ = ["CALLBACK_SCOPES", "CallbackReceiver", "ReceivedCallback"]

CALLBACK_SCOPES = {
    "on-search": "registry.on-search",
    "on-subscribe": "registry.on-subscribe",
    "on-unsubscribe": "registry.on-unsubscribe",
    "txn-on-status": "registry.txn.on-status",
    "notify": "registry.notify",
}
"""Callback header.action -> its `x-oauth2-scope` in spec/openapi.yaml."""

TOKEN_PATH = "/oauth2/client/token"  # noqa: S105 - a URL path
_NO_STORE = {"cache-control": "no-store"}


@dataclass(frozen=True)
class ReceivedCallback:
    """One POST the target made to us."""

    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def action(self) -> str:
        header = self.body.get("header") if isinstance(self.body, Mapping) else None
        return str(header.get("action", "")) if isinstance(header, Mapping) else ""


def _token_key(client_id: str, secret: str) -> dict[str, Any]:
    """An Ed25519 key derived from the credentials: a token the IBR cached during an earlier
    run with the same settings still verifies, as it would at a real SP-MIS."""
    seed = hashlib.sha256(f"ibr-conformance-callback-tokens\0{client_id}\0{secret}".encode())
    private = Ed25519PrivateKey.from_private_bytes(seed.digest())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "OKP", "crv": "Ed25519", "d": b64(seed.digest()), "x": b64(public), "kid": "cb"}


class CallbackReceiver:
    """Run with `with CallbackReceiver(...) as rx:`; `rx.url` is what goes into sender_uri."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str = "",
        token_client_id: str = "IBR",  # noqa: S107 - a client id, not a secret
        token_client_secret: str = "",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = public_url or f"http://{host}:{self.port}"
        self.token_url = f"{self.url}{TOKEN_PATH}"
        self.token_client_id = token_client_id
        self._secret = token_client_secret
        self._tokens = (
            TokenService(
                private_jwk=_token_key(token_client_id, token_client_secret),
                issuer="conformance-callback-receiver",
                lifetime_seconds=600,
            )
            if token_client_secret
            else None
        )
        self.tokens_issued = 0
        self._received: list[ReceivedCallback] = []
        self._cond = threading.Condition()
        app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/{path:path}", self._receive, methods=["POST"]),
            ]
        )
        self._background = BackgroundServer(app, host=host, port=self.port)

    @property
    def issues_tokens(self) -> bool:
        return self._tokens is not None

    async def _token(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form: dict[str, Any] = dict(await request.json())
            except (ValueError, TypeError):
                form = {}
        else:
            form = {k: str(v) for k, v in (await request.form()).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type"}, status_code=400, headers=_NO_STORE
            )
        if self._tokens is None or (form.get("client_id"), form.get("client_secret")) != (
            self.token_client_id,
            self._secret,
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401, headers=_NO_STORE)
        asked = set(str(form.get("scope") or "").split()) or set(CALLBACK_SCOPES.values())
        scopes = sorted(asked & set(CALLBACK_SCOPES.values()))
        token = self._tokens.issue(
            client_id=self.token_client_id, scopes=scopes, now=datetime.now(UTC)
        )
        self.tokens_issued += 1
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._tokens.lifetime_seconds,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers=_NO_STORE)

    async def _receive(self, request: Request) -> JSONResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            body = (await request.body()).decode(errors="replace")
        with self._cond:
            self._received.append(
                ReceivedCallback(path=request.url.path, headers=dict(request.headers), body=body)
            )
            self._cond.notify_all()
        correlation = ""
        if isinstance(body, dict) and isinstance(body.get("message"), dict):
            correlation = str(body["message"].get("correlation_id", ""))
        return JSONResponse(ack(correlation or "callback"))

    def token_problem(self, callback: ReceivedCallback) -> str | None:
        """Why `callback` is not authenticated by a token we issued (None: it is)."""
        if self._tokens is None:
            return "the receiver issues no tokens (no callback_client_secret configured)"
        try:
            token = self._tokens.validate(
                bearer_token(callback.headers.get("authorization")), now=datetime.now(UTC)
            )
        except IbrProtocolError as exc:
            return f"Authorization: {exc}"
        if token.client_id != self.token_client_id:
            return f"token of client {token.client_id!r}, not {self.token_client_id!r}"
        header = callback.body.get("header") if isinstance(callback.body, Mapping) else None
        sender = header.get("sender_id") if isinstance(header, Mapping) else None
        if sender != token.client_id:
            return f"header.sender_id {sender!r} is not the token's subject {token.client_id!r}"
        scope = CALLBACK_SCOPES.get(callback.action)
        if scope and scope not in token.scopes:
            return f"the token lacks scope {scope!r} (has {sorted(token.scopes)})"
        return None

    def __enter__(self) -> CallbackReceiver:
        self._background.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.stop()

    def received(self) -> list[ReceivedCallback]:
        with self._cond:
            return list(self._received)

    def wait_for(
        self,
        predicate: Callable[[ReceivedCallback], bool],
        *,
        timeout: float,
        settle: float = 0.0,
    ) -> list[ReceivedCallback]:
        """All callbacks matching `predicate`, once at least one arrived (or `timeout` passed).

        `settle` keeps listening that long after the first match, to catch duplicates.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(predicate(c) for c in self._received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
        if settle:
            time.sleep(settle)
        with self._cond:
            return [c for c in self._received if predicate(c)]
