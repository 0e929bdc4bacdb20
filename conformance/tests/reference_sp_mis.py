"""Start the reference SP-MIS (`ibr-client listen --trigger`) on a free loopback port.

The suite's src never imports `ibr_client`; the tests start it only through its command line,
configured with the suite's mock IBR (on a port chosen here) as its IBR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ibr_protocol import generate_signing_key, public_jwk

from .servers import free_port

SP_MIS_ID = "conf-sp-mis"
MOCK_CLIENT_SECRET = "mock-ibr-secret"
IBR_CLIENT_SECRET = "ibr-at-sp-mis-secret"
"""The suite's (the IBR's) secret at the SP-MIS's token endpoint; its client id is "IBR"."""


@dataclass(frozen=True)
class ReferenceSpMis:
    url: str
    """Callback base URL (the receiver)."""
    trigger_url: str
    jwks_file: Path
    """The SP-MIS's public JWKS (its signing key)."""
    mock_ibr_port: int


def _ibr_client() -> str:
    return shutil.which("ibr-client") or str(Path(sys.executable).with_name("ibr-client"))


@contextmanager
def reference_sp_mis(workdir: Path, *, ibr_port: int | None = None) -> Iterator[ReferenceSpMis]:
    """`ibr-client listen --trigger` with its IBR at a mock-IBR port; stopped by pid on exit.

    `ibr_port`: where the SP-MIS sends its requests (default: the mock IBR itself; a mutating
    proxy in front of the mock for the SP-MIS mutants)."""
    key = generate_signing_key("conf-sp-mis-1")
    key_file = workdir / "sp-mis.jwk.json"
    key_file.write_text(json.dumps(key))
    jwks_file = workdir / "sp-mis.jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public_jwk(key)]}))
    port, mock_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    config = workdir / "sp-mis.toml"
    config.write_text(
        "\n".join(
            [
                f'ibr_url = "http://127.0.0.1:{ibr_port or mock_port}"',
                f'client_id = "{SP_MIS_ID}"',
                f'client_secret = "{MOCK_CLIENT_SECRET}"',
                f'sender_id = "{SP_MIS_ID}"',
                f'signing_key_file = "{key_file}"',
                f'callback_url = "{url}"',
                f'ibr_client_secret = "{IBR_CLIENT_SECRET}"',
                f'state_dir = "{workdir / "state"}"',
                "retries = 0",
                "timeout = 10",
            ]
        )
    )
    log = (workdir / "sp-mis.log").open("w")
    proc = subprocess.Popen(
        [_ibr_client(), "listen", "--trigger", "--config", str(config), "--port", str(port)],
        env={**os.environ},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"ibr-client listen did not start; see {workdir / 'sp-mis.log'}")
        yield ReferenceSpMis(
            url=url, trigger_url=f"{url}/trigger", jwks_file=jwks_file, mock_ibr_port=mock_port
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
