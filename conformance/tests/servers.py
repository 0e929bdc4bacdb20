"""Run an ASGI app with uvicorn on a free loopback port, in a thread (tests' shorthand)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ibr_conformance.background import BackgroundServer, free_port

__all__ = ["free_port", "serve"]


@contextmanager
def serve(app: Any, *, port: int = 0) -> Iterator[str]:
    port = port or free_port()
    server = BackgroundServer(app, host="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
