"""Start the real standalone IBR (`ibr` CLI) on a free loopback port (temp SQLite, or PostgreSQL).

The suite never imports `ibr_service`: it starts it only through its command line, as the
architecture allows for self-validation. The suite's clients are registered with the callback
receiver's token endpoint (a port fixed here), so the IBR's callbacks carry a bearer token the
receiver issued (IBR-SEC-004); every run against this IBR must bind its receiver there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ibr_protocol import public_jwk

from .servers import free_port

_SECRET = re.compile(r"client_secret:\s*(\S+)")
CALLBACK_CLIENT_ID = "IBR"
CALLBACK_CLIENT_SECRET = "ibr-at-suite-receiver-secret"


@dataclass(frozen=True)
class RealIbr:
    url: str
    secrets: dict[str, str]
    """sender_id -> client secret."""
    callback_port: int
    """Where the suite's callback receiver must listen (its token URL is registered)."""
    proxy_port: int
    """Where a proxy in front of this IBR must listen to see its callbacks (also registered as a
    callback target: targets are host and port)."""

    def receiver_settings(self) -> dict[str, object]:
        """The run settings that let the receiver issue the tokens the IBR asks for."""
        return {
            "callback_port": self.callback_port,
            "callback_client_id": CALLBACK_CLIENT_ID,
            "callback_client_secret": CALLBACK_CLIENT_SECRET,
        }


def _ibr() -> str:
    found = shutil.which("ibr") or str(Path(sys.executable).with_name("ibr"))
    return found


def _add_client(env: dict[str, str], sender_id: str, key_file: Path, *args: str) -> str:
    out = subprocess.run(
        [_ibr(), "clients", "add", sender_id, "--public-key", str(key_file), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    match = _SECRET.search(out)
    if not match:
        raise RuntimeError(f"`ibr clients add {sender_id}` printed no client_secret: {out!r}")
    return match.group(1)


@contextmanager
def real_ibr(
    workdir: Path, suite_key: dict[str, Any], *, database_url: str | None = None
) -> Iterator[RealIbr]:
    """`ibr db upgrade`, three clients, then `ibr serve`; stopped (by its pid) on exit.

    The database is a temp SQLite file unless ``database_url`` names another (PostgreSQL).
    """
    env = {
        **os.environ,
        "IBR_DATABASE_URL": database_url or f"sqlite:///{workdir / 'ibr.db'}",
        "COLUMNS": "250",
        "IBR_OUTBOX_POLL_SECONDS": "0.2",
    }
    key_file = workdir / "suite.pub.jwk"
    key_file.write_text(json.dumps(public_jwk(suite_key)))
    subprocess.run([_ibr(), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    callback_port, proxy_port = free_port(), free_port()
    loopback = (
        "--callback-host",
        f"127.0.0.1:{callback_port}",  # the suite's receiver (callbacks and its token URL)
        "--callback-host",
        f"127.0.0.1:{proxy_port}",  # a mutating proxy in front of the IBR (self-validation)
        "--allow-private-callbacks",
        "--callback-token-url",
        f"http://127.0.0.1:{callback_port}/oauth2/client/token",
        "--callback-client-id",
        CALLBACK_CLIENT_ID,
        "--callback-client-secret",
        CALLBACK_CLIENT_SECRET,
    )
    secrets = {
        "conf-main": _add_client(env, "conf-main", key_file, *loopback, "--programme", "CONF-PROG"),
        "conf-second": _add_client(
            env, "conf-second", key_file, *loopback, "--programme", "OTHER-PROG"
        ),
        "conf-limited": _add_client(env, "conf-limited", key_file, "--scope", "registry.enrolled"),
    }
    port = free_port()
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen(
        [_ibr(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"ibr serve did not start; see {workdir / 'serve.log'}")
        yield RealIbr(url=url, secrets=secrets, callback_port=callback_port, proxy_port=proxy_port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
