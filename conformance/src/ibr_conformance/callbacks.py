"""The built-in callback receiver: an HTTP server on loopback that records every callback.

Schemathesis does not test callbacks; the scenarios do, through this receiver. It answers each
callback with a spec ACK and keeps the body for validation against spec/. With a
`callback_client_secret` it also plays the SP-MIS's token endpoint for the IBR (security profile
§1): the IBR fetches a token there and must send it on every callback, which a check verifies
(IBR-SEC-004). The receiver never refuses a callback itself, so that a missing token is reported
by that check naming the requirement, not as lost callbacks in every scenario.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ibr_conformance.background import BackgroundServer, free_port
from ibr_conformance.token_endpoint import TOKEN_PATH, SuiteTokenEndpoint
from ibr_protocol import IbrProtocolError, ack

__all__ = ["CALLBACK_SCOPES", "CallbackReceiver", "ReceivedCallback"]

CALLBACK_SCOPES = {
    "on-search": "registry.on-search",
    "on-subscribe": "registry.on-subscribe",
    "on-unsubscribe": "registry.on-unsubscribe",
    "txn-on-status": "registry.txn.on-status",
    "notify": "registry.notify",
}
"""Callback header.action -> its `x-oauth2-scope` in spec/openapi.yaml."""


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
        # Without a secret the endpoint refuses everyone (there is no accept-any mode).
        self._tokens = SuiteTokenEndpoint(
            purpose="callback-tokens",
            issuer="conformance-callback-receiver",
            client_id=token_client_id,
            client_secret=token_client_secret,
            scopes=CALLBACK_SCOPES.values(),
        )
        self._received: list[ReceivedCallback] = []
        self._cond = threading.Condition()
        app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._tokens.endpoint, methods=["POST"]),
                Route("/{path:path}", self._receive, methods=["POST"]),
            ]
        )
        self._background = BackgroundServer(app, host=host, port=self.port)

    @property
    def tokens_issued(self) -> int:
        return self._tokens.tokens_issued

    @property
    def issues_tokens(self) -> bool:
        return bool(self._secret)

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
        if not self.issues_tokens:
            return "the receiver issues no tokens (no callback_client_secret configured)"
        try:
            token = self._tokens.validate(callback.headers.get("authorization"))
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
