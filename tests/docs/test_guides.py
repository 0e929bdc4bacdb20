"""The government guide, followed literally on a fresh PostgreSQL database in an empty directory.

Its marked shell blocks (`guides.py`) run in order in one bash session with only /usr/bin and
/bin on PATH, so `ibr` exists only after the guide's own install and activate steps. pip installs
from the offline wheelhouse (PIP_NO_INDEX, PIP_FIND_LINKS), which is the one liberty taken.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import psycopg
import pytest

from .guides import read_guide, run_guide

REPO = Path(__file__).resolve().parents[2]
GOVERNMENT_GUIDE = REPO / "docs" / "deploying-the-ibr.md"
VENDOR_GUIDE = REPO / "docs" / "vendors-running-the-suite.md"
ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def _session_env(home: Path, wheelhouse: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def test_marked_blocks_are_found() -> None:
    guide = read_guide(GOVERNMENT_GUIDE)
    assert "IBR_SOURCE" in guide.site_values
    assert len(guide.blocks) >= 8
    assert any("ibr db upgrade" in block for block in guide.blocks)


def test_the_government_guide_works_as_written(
    tmp_path: Path, built_wheel: Path, wheelhouse: Path
) -> None:
    name = f"ibr_guide_{os.getpid()}_{tmp_path.name[-6:]}".lower().replace("-", "_")
    name = re.sub(r"[^a-z0-9_]", "_", name)
    home = tmp_path / "home"
    home.mkdir()
    values = {
        "IBR_HOME": str(tmp_path / "ibr"),
        "IBR_SOURCE": str(wheelhouse / built_wheel.name),
        "DB_HOST": "127.0.0.1",
        "DB_ADMIN": "postgres",
        "DB_USER": name,
        "DB_NAME": name,
        "IBR_PORT": str(_free_port()),
    }
    _drop(name)
    try:
        output = run_guide(
            read_guide(GOVERNMENT_GUIDE), values, tmp_path, _session_env(home, wheelhouse)
        )
    finally:
        _drop(name)
    (tmp_path / "guide-output.txt").write_text(output, encoding="utf-8")
    pushed = re.search(r"pushed (\d+) record\(s\).*?(\d+) item\(s\)\s+rejected", output, re.S)
    assert pushed, output[-3000:]
    assert int(pushed[1]) > 0
    assert pushed[2] == "0"
    assert '"enrolled_status": "yes"' in output
    assert "programme,area,sex,age_band" in output  # the coverage report
    assert "backup readable" in output
    assert "audit log intact" in output
    assert "-rw-------" in output  # the private key is readable by its owner only


def test_the_vendor_guide_installs_the_suite_and_makes_a_private_key(
    tmp_path: Path, built_wheel: Path, wheelhouse: Path
) -> None:
    guide = read_guide(VENDOR_GUIDE)
    assert len(guide.blocks) >= 2
    home = tmp_path / "home"
    home.mkdir()
    values = {
        "SUITE_HOME": str(tmp_path / "suite"),
        "IBR_SOURCE": str(wheelhouse / built_wheel.name),
    }
    output = run_guide(guide, values, tmp_path, _session_env(home, wheelhouse))
    checks = (tmp_path / "suite" / "checks.txt").read_text(encoding="utf-8")
    assert "fuzz" in checks  # the fuzzing checks load: the extra is installed
    assert "-rw-------" in output
    public = json.loads((tmp_path / "suite" / "suite.pub.jwk").read_text(encoding="utf-8"))
    assert public["kid"] == "suite-1"
    assert "d" not in public  # the private part stays in suite.jwk.json
