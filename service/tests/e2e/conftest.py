"""Fixtures of the end-to-end tests: real servers on loopback, the `ibr` command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ibr_service.settings import Settings


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: quick outbox polling and retries."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "outbox_poll_seconds": 0.05,
        "outbox_backoff_base_seconds": 0.1,
        "outbox_backoff_cap_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ibr_command() -> list[str]:
    """The installed `ibr` entry point of this venv."""
    found = shutil.which("ibr", path=str(Path(sys.executable).parent))
    assert found, "the `ibr` command is not installed in this venv"
    return [found]


class ServerProcess:
    """`ibr serve` in a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*ibr_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ibr serve exited: {self.process.stderr.read().decode()[-2000:]}"
                )  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("ibr serve did not become ready in 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """Environment of an `ibr serve` subprocess on a fresh SQLite file."""
    return {
        "IBR_DATABASE_URL": f"sqlite:///{tmp_path}/ibr.db",
        "IBR_OUTBOX_POLL_SECONDS": "0.05",
        "IBR_OUTBOX_BACKOFF_BASE_SECONDS": "0.1",
        "IBR_OUTBOX_LEASE_SECONDS": "2",
    }


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Collects started servers and kills any still running at the end."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()
