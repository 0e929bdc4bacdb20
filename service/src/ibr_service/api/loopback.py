"""In-process servers on a free loopback port: for ``ibr demo`` and the end-to-end tests.

with serve_in_thread(app) as url: ...        # uvicorn in a thread, 127.0.0.1:<free port>
recorder = CallbackRecorder()                 # an SP-MIS callback receiver that records
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = ["CallbackRecorder", "free_loopback_socket", "serve_in_thread"]


def free_loopback_socket() -> socket.socket:
    """A listening-ready TCP socket bound to 127.0.0.1 on a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, *, timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread; yields its base URL, stops it on exit."""
    sock = free_loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


class CallbackRecorder:
    """A minimal SP-MIS callback endpoint: records every JSON body POSTed to any path."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._fail_first = fail_first
        self._cond = threading.Condition()
        self.app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        with self._cond:
            if self._fail_first > 0:
                self._fail_first -= 1
                return JSONResponse({"error": "try again"}, status_code=503)
            self.received.append((request.url.path, body))
            self._cond.notify_all()
        return JSONResponse({"message": {"ack_status": "ACK"}})

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        """Block until ``count`` callbacks arrived (or ``timeout``); returns what arrived."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)
