"""Run the two public DCI compliance suites (in `../shared/reference/dci-suites/`, see its
SOURCES.md) against our IBR on loopback, and read their per-scenario results.

Each suite is copied to a scratch folder (never edited in place, never copied into the
project), its npm dependencies installed there, and pointed at the target by its own
environment variables. Used by `tests/test_dci_suites*.py`; also a program:

    .venv/bin/python tests/dci_suites.py kit [--spec bundled|dci] [--policy optional|required]

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
def ibr_for_kit(database_dir: Path, *, policy: str = "optional") -> Iterator[tuple[str, str, str]]:
    """Our IBR in production mode (strict signatures), with the kit's sender registered under
    `policy`; yields (base URL, bearer token, receiver_id)."""
    from ibr_service.cli.sandbox import sandbox
    from ibr_service.settings import Settings

    settings = Settings(database_url=f"sqlite:///{database_dir}/ibr.db")
    assert settings.strict_signatures
    with sandbox(settings, sender_id=KIT_SENDER_ID, signature_policy=policy) as box:
        yield f"{box.url}{settings.base_path}", box.spmis.token(), settings.receiver_id


def run_kit_registry_profile(
    kit_dir: Path, *, spec: Path, policy: str = "optional", database_dir: Path
) -> SuiteRun:
    """The kit's `sr-registry` profile (28 scenarios) against our IBR."""
    with ibr_for_kit(database_dir, policy=policy) as (url, token, receiver_id):
        env = kit_env(
            base_url=url, token=token, receiver_id=receiver_id, spec=spec, callback_port=free_port()
        )
        return run_cucumber(kit_dir, ["--tags", "@profile=sr-registry"], env)


def main(argv: list[str]) -> int:
    spec = DCI_SPEC if "dci" in argv else BUNDLED_SPEC
    policy = "required" if "required" in argv else "optional"
    with tempfile.TemporaryDirectory() as scratch:
        kit = prepare_kit(Path(scratch))
        run = run_kit_registry_profile(kit, spec=spec, policy=policy, database_dir=Path(scratch))
    print(json.dumps(run.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main(sys.argv[1:]))
