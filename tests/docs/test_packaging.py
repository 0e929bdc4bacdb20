"""`pip install .` into a fresh venv: no test tools, and `ibr serve` runs from the install.

The wheel is built from this checkout (hatchling, no build isolation) and installed with
`--no-index` from a wheelhouse packed from this virtualenv (`wheelhouse.py`), so the test needs
no network and installs exactly what the wheel's metadata asks for (the wheelhouse also holds
the `conformance` extra's packages, so their absence shows the extra is not installed).
"""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, wheel_metadata

REPO = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "hypothesis", "schemathesis"}

pytestmark = pytest.mark.slow


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBR_", "VIRTUAL_ENV"))}
    return {**env, **extra}


def test_wheel_version_is_the_spec_version(built_wheel: Path) -> None:
    dci, revision = (REPO / "spec/VERSION").read_text().strip().split("-ibr.")
    assert wheel_metadata(built_wheel)["Version"] == f"{dci}.{revision}"


def test_wheel_carries_the_spec(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as archive:
        names = set(archive.namelist())
    for path in ("openapi.yaml", "requirements.yaml", "VERSION", "security-profile.md"):
        assert f"ibr_protocol/_spec/{path}" in names
    schemas = {p.relative_to(REPO).as_posix() for p in (REPO / "spec/schemas").rglob("*.json")}
    assert {f"ibr_protocol/_{s}" for s in schemas} <= names


def test_install_has_no_test_tools(fresh_venv: Path) -> None:
    listed = _run(fresh_venv / "bin/pip", "list", "--format=freeze")
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "ibr" in names
    assert not names & TEST_TOOLS, f"test tools installed on a server: {names & TEST_TOOLS}"


def test_commands_run_from_the_install(fresh_venv: Path, tmp_path: Path) -> None:
    for command in ("ibr", "ibr-client", "ibr-spec"):
        shown = _run(fresh_venv / "bin" / command, "--help", cwd=tmp_path, env=_clean_env())
        assert shown.returncode == 0, shown.stderr
        assert "Usage" in shown.stdout


def test_conformance_without_its_extra_says_what_to_install(
    fresh_venv: Path, tmp_path: Path
) -> None:
    ran = _run(fresh_venv / "bin/ibr-conformance", "list-checks", cwd=tmp_path, env=_clean_env())
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        'error: schemathesis, hypothesis not installed; run: pip install "ibr[conformance]"'
    ]


@pytest.fixture
def served(fresh_venv: Path, tmp_path: Path) -> Iterator[str]:
    env = _clean_env(IBR_DATABASE_URL=f"sqlite:///{tmp_path / 'ibr.db'}")
    upgraded = _run(fresh_venv / "bin/ibr", "db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    server = subprocess.Popen(
        [fresh_venv / "bin/ibr", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ibr_serve_runs_from_the_install(served: str) -> None:
    assert httpx.get(f"{served}/health", timeout=5).status_code == 200
    unauthenticated = httpx.post(f"{served}/registry/sync/search", json={}, timeout=5)
    assert unauthenticated.status_code == 401
