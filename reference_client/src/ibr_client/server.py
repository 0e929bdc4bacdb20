"""Running an ASGI app (the receiver) with uvicorn: embedded in a thread, or in the foreground.

Embedded mode binds the socket itself before starting, so port 0 gives a free loopback port
with no race, and the URL is known as soon as :meth:`EmbeddedServer.start` returns.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn

from ibr_client.listener import bind_socket

__all__ = ["EmbeddedServer", "serve_forever"]


class EmbeddedServer:
    """Serve an app on ``host:port`` in a background thread (``port=0``: any free port).

    The socket is bound at construction, so :attr:`url` is known before the app is built
    (the SP-MIS needs it as its callback URL); :meth:`start` then serves ``app``.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> None:
        self._socket = sock or bind_socket(host, port)
        self.host = self._socket.getsockname()[0] if sock else host
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, app: Any, timeout: float = 10.0) -> Self:
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the receiver did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()


def serve_forever(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` in the foreground until interrupted (the ``listen``
    command); binding first lets the caller report a taken port in one line."""
    config = uvicorn.Config(app, log_level="info", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
