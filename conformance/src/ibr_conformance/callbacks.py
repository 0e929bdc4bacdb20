"""The built-in callback receiver: an HTTP server on loopback that records every callback.

Schemathesis does not test callbacks; the scenarios do, through this receiver. It answers each
callback with a spec ACK and keeps the body for validation against spec/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ibr_conformance.background import BackgroundServer, free_port
from ibr_protocol import ack

__all__ = ["CallbackReceiver", "ReceivedCallback"]


@dataclass(frozen=True)
class ReceivedCallback:
    """One POST the target made to us."""

    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)


class CallbackReceiver:
    """Run with `with CallbackReceiver(...) as rx:`; `rx.url` is what goes into sender_uri."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, public_url: str = "") -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = public_url or f"http://{host}:{self.port}"
        self._received: list[ReceivedCallback] = []
        self._cond = threading.Condition()
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._background = BackgroundServer(app, host=host, port=self.port)

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
