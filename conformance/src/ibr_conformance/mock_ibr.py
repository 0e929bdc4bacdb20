"""The built-in mock IBR of the sp-mis profile: an ASGI app on loopback that plays the registry.

It issues tokens to the configured client, publishes the suite's public key (so the SP-MIS can
verify the callbacks the suite signs as the IBR), records every request the SP-MIS sends,
answers each per spec (an ACK with a fresh correlation id for async operations), and then sends
the signed callback of each async request to its `header.sender_uri`, with the bearer token the
SP-MIS's own token endpoint issued to the suite (IBR-SEC-004). The checks of
`checks/spmis.py` judge what was recorded; the mock itself never refuses a request, so that a
broken SP-MIS is reported by a check naming the requirement rather than by a harness error.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ibr_conformance.background import BackgroundServer, free_port
from ibr_conformance.errors import HarnessError
from ibr_conformance.token_endpoint import TOKEN_PATH, SuiteTokenEndpoint
from ibr_protocol import ack, build_callback, public_jwk, sign_envelope, spec_dir

__all__ = ["ASYNC_CALLBACKS", "MockIbr", "RecordedRequest", "callback_example"]

ASYNC_CALLBACKS = {
    "search": "on-search",
    "subscribe": "on-subscribe",
    "unsubscribe": "on-unsubscribe",
}
"""header.action of an async request -> action of the callback the IBR sends."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the SP-MIS sent to the mock IBR, and what the mock answered."""

    path: str
    headers: dict[str, str]
    body: Any
    correlation_id: str
    received_at: float = field(default_factory=time.monotonic)


_EXAMPLE_DIRS = {
    "on-search": "post_reg_on-search",
    "on-subscribe": "post_reg_on-subscribe",
    "on-unsubscribe": "post_reg_on-unsubscribe",
    "txn-on-status": "post_reg_on-txnstatus",
    "notify": "post_reg_notify",
}


def callback_example(action: str) -> dict[str, Any]:
    """The valid example envelope of a callback `action` from spec/examples/valid/."""
    folder = spec_dir() / "examples" / "valid" / _EXAMPLE_DIRS[action]
    path = next(p for p in sorted(folder.glob("envelope_*.json")))
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _callback_message(action: str, message: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """The spec example of the callback, re-addressed to this request's transaction."""
    out = copy.deepcopy(callback_example(ASYNC_CALLBACKS[action])["message"])
    out["transaction_id"] = str(message.get("transaction_id", "unknown"))
    out["correlation_id"] = correlation_id
    items = {"search": "search_request", "subscribe": "subscribe_request"}.get(action)
    results = {"search": "search_response", "subscribe": "subscribe_response"}.get(action)
    if items and results and out.get(results):
        template = out[results][0]
        out[results] = [
            {**copy.deepcopy(template), "reference_id": str(item.get("reference_id", "r"))}
            for item in message.get(items, [])
            if isinstance(item, dict)
        ] or [template]
    return dict(out)


class MockIbr:
    """Run with `with MockIbr(...) as ibr:`; `ibr.url` is what the SP-MIS is configured with."""

    def __init__(
        self,
        *,
        signing_key: dict[str, Any] | None,
        client_id: str,
        client_secret: str,
        ibr_id: str,
        host: str = "127.0.0.1",
        port: int = 0,
        registry_prefix: str = "/registry",
        build_message: Callable[[str, dict[str, Any], str], dict[str, Any]] = _callback_message,
        callback_token: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.host, self.port = host, port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.client_id, self.client_secret, self.ibr_id = client_id, client_secret, ibr_id
        self.tokens = SuiteTokenEndpoint(
            purpose="mock-ibr-tokens",
            issuer=ibr_id,
            client_id=client_id,
            client_secret=client_secret,
        )
        """Issues the SP-MIS's tokens; `tokens.problem(authorization)` judges a request's."""
        self.callback_answers: list[tuple[str, int, Any]] = []
        """(callback URL, HTTP status, body) of every callback the mock sent."""
        self._key = signing_key
        self._build_message = build_message
        self._callback_token = callback_token
        self._requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        app = Starlette(
            routes=[
                Route(TOKEN_PATH, self.tokens.endpoint, methods=["POST"]),
                Route("/.well-known/jwks.json", self._jwks, methods=["GET"]),
                Route(registry_prefix + "/{op:path}", self._registry, methods=["POST"]),
            ]
        )
        self._background = BackgroundServer(app, host=host, port=self.port)

    # -- endpoints ------------------------------------------------------------------------------

    async def _jwks(self, request: Request) -> JSONResponse:
        keys = [public_jwk(self._key)] if self._key else []
        return JSONResponse({"keys": keys})

    async def _registry(self, request: Request) -> JSONResponse:
        try:
            body: Any = await request.json()
        except ValueError:
            body = (await request.body()).decode(errors="replace")
        correlation_id = str(uuid.uuid4())
        with self._cond:
            self._requests.append(
                RecordedRequest(
                    path=request.url.path,
                    headers=dict(request.headers),
                    body=body,
                    correlation_id=correlation_id,
                )
            )
            self._cond.notify_all()
        header = body.get("header") if isinstance(body, dict) else None
        action = header.get("action") if isinstance(header, dict) else None
        task = None
        if isinstance(action, str) and action in ASYNC_CALLBACKS and header is not None:
            task = BackgroundTask(self._send_callback, dict(header), body, correlation_id)
        return JSONResponse(ack(correlation_id), background=task)

    async def _send_callback(self, header: dict[str, Any], body: Any, correlation_id: str) -> None:
        uri = header.get("sender_uri")
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(uri, str) or not isinstance(message, dict):
            return
        action = str(header["action"])
        envelope = build_callback(
            action=ASYNC_CALLBACKS[action],
            message=self._build_message(action, message, correlation_id),
            status="succ",
            sender_id=self.ibr_id,
            receiver_id=str(header.get("sender_id", "")),
        )
        if self._key:
            envelope = sign_envelope(envelope, self._key)
        try:
            # The token fetch is blocking HTTP (the suite's Target): keep it off the event loop.
            token = await run_in_threadpool(self._callback_token)
        except HarnessError as exc:
            self.callback_answers.append((uri, 0, f"no token for the callback: {exc}"))
            return
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            async with httpx.AsyncClient(timeout=15) as http:
                resp = await http.post(uri, json=envelope, headers=headers)
            answer: Any = resp.json() if resp.content else None
            self.callback_answers.append((uri, resp.status_code, answer))
        except (httpx.HTTPError, ValueError) as exc:
            self.callback_answers.append((uri, 0, str(exc)))

    # -- lifecycle and queries ------------------------------------------------------------------

    def __enter__(self) -> MockIbr:
        self._background.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.stop()

    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], *, timeout: float, after: int = 0
    ) -> RecordedRequest | None:
        """The first request from index `after` on matching `predicate`, or None after timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self._requests[after:]:
                    if predicate(r):
                        return r
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
