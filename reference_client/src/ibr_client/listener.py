"""One receiver per ``state_dir``: ``ibr-client listen`` records where it runs, so that the
asynchronous commands (``search --async``, ``subscribe``, ``unsubscribe``) of the same
configuration use it instead of trying to bind its port a second time.

Both share the store in ``state_dir``: the listener stores each callback, and the command's
handle finds it there (handles poll the store). The record is ``state_dir/listener.json``
(``pid``, ``url``); it counts only while that process is alive and its receiver answers
``GET /health``, so a record left by a killed listener is ignored.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ibr_client.errors import ConfigError

__all__ = ["RunningListener", "bind_socket", "listener_record", "running_listener"]

_RECORD = "listener.json"


@dataclass(frozen=True)
class RunningListener:
    pid: int
    url: str
    """The receiver's base URL as bound, e.g. ``http://127.0.0.1:8700``."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; a taken port is a one-line :class:`ConfigError`."""
    # proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on such sockets; without it
    # Nagle's algorithm and delayed ACKs add ~40 ms to every answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                "listen_port",
                f"{host}:{port} is taken by another program; stop it or choose a free port "
                "(--port, listen_port or IBR_CLIENT_LISTEN_PORT)",
            ) from None
        problem = f"cannot listen on {host}:{port}: {exc.strerror}"
        raise ConfigError("listen_host", problem) from None
    return sock


def running_listener(state_dir: Path) -> RunningListener | None:
    """The live ``ibr-client listen`` of ``state_dir``, or None."""
    try:
        data = json.loads((state_dir / _RECORD).read_text(encoding="utf-8"))
        listener = RunningListener(pid=int(data["pid"]), url=str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if listener.pid == os.getpid() or not _alive(listener.pid):
        return None
    try:
        healthy = httpx.get(listener.url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        healthy = False
    return listener if healthy else None


@contextlib.contextmanager
def listener_record(state_dir: Path, url: str) -> Iterator[None]:
    """Record this process as the listener of ``state_dir`` while the block runs."""
    path = state_dir / _RECORD
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
