"""Run the two public DCI compliance suites (in `../shared/reference/dci-suites/`, see its
SOURCES.md) against our IBR on loopback, and read their per-scenario results.

Each suite is copied to a scratch folder (never edited in place, never copied into the
project), its npm dependencies installed there, and pointed at the target by its own
environment variables. Used by `tests/test_dci_suites*.py`; also a program:

    .venv/bin/python tests/dci_suites.py kit [dci] [required]   # registry profile, our IBR
    .venv/bin/python tests/dci_suites.py kit subscriber|client  # SP-MIS profiles, reference SP-MIS

prints one JSON object: scenario -> passed/failed/skipped/undefined, and the counts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO.parent / "shared" / "reference" / "dci-suites"
KIT = SUITES / "spdci-compliance"
MOCKUP = SUITES / "ibr-mockup-compliance"
BUNDLED_SPEC = REPO / "spec" / "bundled" / "openapi.yaml"
DCI_SPEC = KIT / "spec" / "ibr_api_v1.0.0.yaml"
KIT_SENDER_ID = "test-client"
"""The kit's default `header.sender_id` (DCI_SENDER_ID), registered as an IBR client."""

_IGNORED = shutil.ignore_patterns("node_modules", "results", ".git")


class SuiteUnavailableError(RuntimeError):
    """The suite or npm is missing; the caller decides between skip and fail."""


def npm_available() -> bool:
    return shutil.which("npm") is not None and shutil.which("node") is not None


def prepare_kit(workdir: Path) -> Path:
    """A scratch copy of OpenSPP's kit with its npm dependencies (`npm ci`)."""
    if not KIT.is_dir():
        raise SuiteUnavailableError(f"the OpenSPP kit is not at {KIT}")
    target = workdir / "spdci-compliance"
    shutil.copytree(KIT, target, ignore=_IGNORED)
    _npm(["ci"], target)
    return target


def _npm(args: list[str], cwd: Path) -> None:
    if not npm_available():
        raise SuiteUnavailableError("npm/node are not on PATH")
    done = subprocess.run(
        ["npm", *args, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm {' '.join(args)} failed in {cwd}: {done.stderr[-2000:]}")


MOCKUP_PACKAGE = {
    "name": "ibr-mockup-compliance-run",
    "private": True,
    "type": "module",
    "dependencies": {
        "@cucumber/cucumber": "^10",
        "pactum": "^3.1",
        "chai": "^4.3.7",
        "chai-json-schema": "^1.5.1",
        "chai-string": "^1.5",
    },
}
"""The package.json the suite's own Dockerfile writes (SOURCES.md)."""


def prepare_mockup(workdir: Path) -> Path:
    """A scratch copy of DCI's IBR scenarios (`test/`) with their npm dependencies."""
    if not MOCKUP.is_dir():
        raise SuiteUnavailableError(f"DCI's IBR scenarios are not at {MOCKUP}")
    target = workdir / "ibr-mockup-compliance"
    shutil.copytree(MOCKUP / "test", target, ignore=_IGNORED)
    (target / "package.json").write_text(json.dumps(MOCKUP_PACKAGE, indent=2), encoding="utf-8")
    _npm(["install"], target)
    return target


def run_mockup(suite_dir: Path, base_url: str) -> SuiteRun:
    """Run the 13 scenarios against `base_url` (the one edit the suite expects: its target)."""
    helpers = suite_dir / "features" / "support" / "helpers" / "helpers.js"
    text = helpers.read_text(encoding="utf-8")
    start = text.index("export const localhost")
    end = text.index("\n", start)
    target = f"export const localhost = '{base_url.rstrip('/')}/';"
    helpers.write_text(text[:start] + target + text[end:], encoding="utf-8")
    return run_cucumber(suite_dir, [], {})


@dataclass(frozen=True)
class SuiteRun:
    """Per-scenario results of one cucumber run, and its output tail for diagnosis."""

    results: dict[str, str]
    errors: dict[str, str]
    output: str

    def count(self, status: str) -> int:
        return sum(1 for value in self.results.values() if value == status)

    def summary(self) -> dict[str, Any]:
        return {
            "total": len(self.results),
            "passed": self.count("passed"),
            "failed": sorted(k for k, v in self.results.items() if v != "passed"),
            "results": self.results,
            "errors": self.errors,
        }


def read_cucumber_json(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """`feature file: scenario name` -> worst step status; and the first error of each."""
    results: dict[str, str] = {}
    errors: dict[str, str] = {}
    order = ("failed", "undefined", "ambiguous", "pending", "skipped", "passed")
    for feature in json.loads(path.read_text(encoding="utf-8") or "[]"):
        uri = Path(feature.get("uri", "?")).name
        for element in feature.get("elements", []):
            if element.get("type") != "scenario":
                continue
            key = f"{uri}: {element.get('name', '?')}"
            if key in results:
                key = f"{key} (line {element.get('line')})"
            statuses = [
                step.get("result", {}).get("status", "undefined")
                for step in element.get("steps", [])
            ]
            worst = min(
                statuses or ["undefined"], key=lambda s: order.index(s) if s in order else 0
            )
            results[key] = worst
            for step in element.get("steps", []):
                message = step.get("result", {}).get("error_message")
                if message:
                    errors[key] = (
                        f"{step.get('keyword', '')}{step.get('name', '')}: {message[:600]}"
                    )
                    break
    return results, errors


def run_cucumber(suite_dir: Path, args: list[str], env: Mapping[str, str]) -> SuiteRun:
    report = suite_dir / f"report-{os.getpid()}-{len(os.listdir(suite_dir))}.json"
    done = subprocess.run(
        ["npx", "--no-install", "cucumber-js", *args, "--format", f"json:{report}"],
        cwd=suite_dir,
        env={**os.environ, "QUIET_LOGS": "true", **env},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if not report.is_file():
        raise RuntimeError(
            f"cucumber wrote no report: {done.stderr[-2000:] or done.stdout[-2000:]}"
        )
    results, errors = read_cucumber_json(report)
    return SuiteRun(results=results, errors=errors, output=(done.stdout + done.stderr)[-4000:])


def kit_env(
    *, base_url: str, token: str, receiver_id: str, spec: Path, callback_port: int
) -> dict[str, str]:
    """Environment for the kit's registry profile against `base_url` (README of the kit)."""
    return {
        "DOMAIN": "social",
        "API_BASE_URL": base_url.rstrip("/") + "/",
        "OPENAPI_SPEC_PATH": str(spec),
        "DCI_AUTH_TOKEN": token,
        "DCI_SENDER_ID": KIT_SENDER_ID,
        "DCI_RECEIVER_ID": receiver_id,
        "CALLBACK_SERVER_ENABLED": "true",
        "CALLBACK_SERVER_HOST": "127.0.0.1",
        "CALLBACK_SERVER_LISTEN_HOST": "127.0.0.1",
        "CALLBACK_SERVER_PORT": str(callback_port),
        "CALLBACK_SERVER_BASE_URL": f"http://127.0.0.1:{callback_port}",
    }


def free_port() -> int:
    from ibr_service.api.loopback import free_loopback_socket

    with contextlib.closing(free_loopback_socket()) as sock:
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def ibr_for_kit(
    database_dir: Path, *, callback_port: int, policy: str = "optional"
) -> Iterator[tuple[str, str, str]]:
    """Our IBR in production mode (strict signatures), with the kit's sender registered under
    `policy` and its callback receiver's port as callback target; yields (base URL, bearer
    token, receiver_id)."""
    from ibr_service.cli.sandbox import sandbox
    from ibr_service.settings import Settings

    settings = Settings(database_url=f"sqlite:///{database_dir}/ibr.db")
    assert settings.strict_signatures
    with sandbox(
        settings,
        sender_id=KIT_SENDER_ID,
        signature_policy=policy,
        allowed_callback_hosts=(f"127.0.0.1:{callback_port}",),
    ) as box:
        yield f"{box.url}{settings.base_path}", box.spmis.token(), settings.receiver_id


def run_kit_registry_profile(
    kit_dir: Path, *, spec: Path, policy: str = "optional", database_dir: Path
) -> SuiteRun:
    """The kit's `sr-registry` profile (28 scenarios) against our IBR."""
    callback_port = free_port()
    with ibr_for_kit(database_dir, callback_port=callback_port, policy=policy) as (
        url,
        token,
        receiver_id,
    ):
        env = kit_env(
            base_url=url,
            token=token,
            receiver_id=receiver_id,
            spec=spec,
            callback_port=callback_port,
        )
        return run_cucumber(kit_dir, ["--tags", "@profile=sr-registry"], env)


SP_MIS_ID = "kit-sp-mis"
"""The reference SP-MIS's sender_id (the kit's DCI_RECEIVER_ID in the subscriber profile)."""
SP_MIS_IBR_ID = "IBR"
"""Who the reference SP-MIS takes callbacks from (its receiver_id; the kit's DCI_SENDER_ID)."""
SP_MIS_IBR_SECRET = "kit-ibr-secret"


@dataclass(frozen=True)
class RunningSpMis:
    url: str
    """Its receiver (callbacks) base URL; the trigger API is under `/trigger`."""
    log: Path


def _ibr_client_program() -> str:
    found = Path(sys.executable).with_name("ibr-client")
    return str(found) if found.exists() else shutil.which("ibr-client") or "ibr-client"


def _wait_http(url: str, what: str, log: Path, proc: subprocess.Popen[bytes]) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start at {url}: {tail}")


@contextlib.contextmanager
def _server(
    args: list[str], *, cwd: Path, env: Mapping[str, str], log: Path, ready_url: str, what: str
) -> Iterator[None]:
    """A server process for the length of a run, ready when `ready_url` answers 200; stopped
    by its own pid."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_http(ready_url, what, log, proc)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextlib.contextmanager
def reference_sp_mis(
    workdir: Path,
    *,
    ibr_url: str,
    token_url: str | None = None,
    callback_signature: str = "optional",
) -> Iterator[RunningSpMis]:
    """The reference SP-MIS as deployed: `ibr-client listen --trigger` on a free loopback port.

    `ibr_url`: where it sends its requests (the kit's mock registry); `token_url`: where it gets
    its bearer token. Callbacks are taken from `SP_MIS_IBR_ID` with a token of its own token
    endpoint (secret `SP_MIS_IBR_SECRET`), signature checks on, under `callback_signature`
    (`optional`: the kit cannot sign; a real but wrong signature is still refused)."""
    from ibr_protocol import generate_signing_key, public_jwk

    workdir.mkdir(parents=True, exist_ok=True)
    key_file = workdir / "sp-mis.jwk.json"
    key_file.write_text(json.dumps(generate_signing_key("kit-sp-mis-1")), encoding="utf-8")
    ibr_jwks = workdir / "ibr.jwks.json"
    ibr_key = public_jwk(generate_signing_key("kit-ibr-1"))
    ibr_jwks.write_text(json.dumps({"keys": [ibr_key]}), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {
        "ibr_url": ibr_url,
        "client_id": SP_MIS_ID,
        "client_secret": "unused-by-the-mock",
        "sender_id": SP_MIS_ID,
        "receiver_id": SP_MIS_IBR_ID,
        "signing_key_file": str(key_file),
        "ibr_jwks_file": str(ibr_jwks),
        "callback_url": url,
        "ibr_client_secret": SP_MIS_IBR_SECRET,
        "callback_signature": callback_signature,
        "state_dir": str(workdir / "state"),
        **({"token_url": token_url} if token_url else {}),
    }
    lines = [f"{name} = {json.dumps(value)}" for name, value in settings.items()]
    config = workdir / "sp-mis.toml"
    config.write_text("\n".join([*lines, "retries = 0", "timeout = 10", ""]), encoding="utf-8")
    log = workdir / "sp-mis.log"
    args = [_ibr_client_program(), "listen", "--trigger", "--config", str(config)]
    with _server(
        [*args, "--port", str(port)],
        cwd=workdir,
        env={},
        log=log,
        ready_url=f"{url}/health",
        what="the reference SP-MIS (ibr-client listen)",
    ):
        yield RunningSpMis(url=url, log=log)


def sp_mis_callback_token(sp_mis: RunningSpMis) -> str:
    """A bearer token of the SP-MIS's token endpoint for its IBR (what the IBR would hold)."""
    import httpx

    reply = httpx.post(
        f"{sp_mis.url}/oauth2/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SP_MIS_IBR_ID,
            "client_secret": SP_MIS_IBR_SECRET,
        },
        timeout=10,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def run_kit_subscriber_profile(kit_dir: Path, *, workdir: Path) -> SuiteRun:
    """The kit's `spmis-subscriber` profile: it plays the IBR and posts callbacks (on-search,
    on-subscribe, on-unsubscribe, txn/on-status, notify) to the reference SP-MIS."""
    with reference_sp_mis(workdir, ibr_url="http://127.0.0.1:9") as sp_mis:
        env = kit_env(
            base_url=sp_mis.url,
            token=sp_mis_callback_token(sp_mis),
            receiver_id=SP_MIS_ID,
            spec=DCI_SPEC,
            callback_port=free_port(),
        )
        env["DCI_SENDER_ID"] = SP_MIS_IBR_ID
        return run_cucumber(kit_dir, ["--tags", "@profile=spmis-subscriber"], env)


KIT_MOCK_TOKEN = "kit-mock-token"


@contextlib.contextmanager
def token_endpoint() -> Iterator[str]:
    """A loopback OAuth2 token endpoint that grants any client a token: the kit's mock registry
    has none, and the reference SP-MIS always fetches one before it sends."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {"access_token": KIT_MOCK_TOKEN, "token_type": "Bearer", "expires_in": 3600}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


def run_kit_client_profile(kit_dir: Path, *, workdir: Path) -> SuiteRun:
    """The kit's `spmis-client` profile: its mock registry (`common/mock-server/server.mjs`,
    with DCI's IBR spec) records what the reference SP-MIS sends when the kit triggers it."""
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    workdir.mkdir(parents=True, exist_ok=True)
    mock_log = workdir / "mock-registry.log"
    mock_env = {"PORT": str(mock_port), "DOMAIN": "ibr", "OPENAPI_SPEC_PATH": str(DCI_SPEC)}
    with (
        _server(
            ["node", "common/mock-server/server.mjs"],
            cwd=kit_dir,
            env=mock_env,
            log=mock_log,
            ready_url=f"{mock_url}/healthcheck",
            what="the kit's mock registry",
        ),
        token_endpoint() as token_url,
        reference_sp_mis(workdir, ibr_url=mock_url, token_url=token_url) as sp_mis,
    ):
        env = {
            "DOMAIN": "social",
            "OPENAPI_SPEC_PATH": str(DCI_SPEC),
            "API_BASE_URL": mock_url + "/",
            "MOCK_REGISTRY_ADMIN_URL": f"{mock_url}/admin",
            "CLIENT_TRIGGER_URL": f"{sp_mis.url}/trigger",
            "DCI_SENDER_ID": SP_MIS_ID,
            "DCI_RECEIVER_ID": SP_MIS_IBR_ID,
            # The kit's usual variable: the bearer token of the registry (here the one our token
            # endpoint hands the SP-MIS). sp_client.feature checks it in headers the kit builds.
            "DCI_AUTH_TOKEN": KIT_MOCK_TOKEN,
        }
        return run_cucumber(kit_dir, ["--tags", "@profile=spmis-client"], env)


def main(argv: list[str]) -> int:
    spec = DCI_SPEC if "dci" in argv else BUNDLED_SPEC
    policy = "required" if "required" in argv else "optional"
    with tempfile.TemporaryDirectory() as scratch:
        kit = prepare_kit(Path(scratch))
        if "subscriber" in argv:
            run = run_kit_subscriber_profile(kit, workdir=Path(scratch) / "sp-mis")
        elif "client" in argv:
            run = run_kit_client_profile(kit, workdir=Path(scratch) / "sp-mis")
        else:
            run = run_kit_registry_profile(
                kit, spec=spec, policy=policy, database_dir=Path(scratch)
            )
    print(json.dumps(run.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main(sys.argv[1:]))
