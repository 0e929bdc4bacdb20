"""ASGI middleware of the host: the request size limit (before any route reads the body) and
the request counters and latency histograms of ``/metrics``."""

from __future__ import annotations

import json
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ibr_protocol import err
from ibr_protocol.limits import RequestRefusedError, check_body_size
from ibr_protocol.tokens import NO_STORE_HEADERS
from ibr_service.metrics import REQUEST_SECONDS, REQUESTS, log_refusal

__all__ = ["BodySizeLimit", "RequestMetrics", "operation_label"]

_UNDER_PREFIX = re.compile(r"^.*?(?:/ibr/registry|/registry|/ibr)(/(?:sync/)?[a-z/]+)$")


def operation_label(scope: Scope) -> str:
    """The route's path template without base path or registry prefix (`/sync/search`): one
    label per operation whichever alias was called; ``other`` for an unknown path."""
    path = getattr(scope.get("route"), "path", None)
    if not path:
        return "other"
    under = _UNDER_PREFIX.match(str(path))
    return under.group(1) if under else str(path)


class BodySizeLimit:
    """Answers 413 with the ERR body when a request declares or sends more than ``limit`` bytes.

    Routes that read their body through ``read_body_limited`` enforce the same limit; this
    covers every other route (the token endpoint's form, unknown paths).
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit():
            try:
                check_body_size(int(declared), self.limit)
            except RequestRefusedError as exc:
                await _too_large(send, exc, token_endpoint=_is_token_path(scope))
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                check_body_size(received, self.limit)
            return message

        await self.app(scope, limited_receive, send)


def _is_token_path(scope: Scope) -> bool:
    return str(scope.get("path", "")).endswith("/oauth2/client/token")


async def _too_large(send: Send, exc: RequestRefusedError, *, token_endpoint: bool) -> None:
    log_refusal(operation="body-size-limit", code=exc.code, reason=exc.reason, status=413)
    headers = [(b"content-type", b"application/json")]
    if token_endpoint:
        # The token endpoint answers in RFC 6749's format, whatever the failure.
        payload: dict[str, str] = {"error": "invalid_request", "error_description": exc.message}
        body = json.dumps(payload).encode()
        headers += [(k.lower().encode(), v.encode()) for k, v in NO_STORE_HEADERS.items()]
    else:
        body = json.dumps(err(exc.code, str(exc))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.http_status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts every answered request and times it, labelled by the route's path template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            route = operation_label(scope)
            REQUESTS.labels(operation=route, method=scope["method"], status=str(status)).inc()
            REQUEST_SECONDS.labels(operation=route).observe(time.perf_counter() - started)
