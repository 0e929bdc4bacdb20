"""Fixtures of the documentation tests: the wheel of this checkout and an offline wheelhouse.

The wheelhouse holds every package `ibr[conformance]` needs, packed from this virtualenv
(`wheelhouse.py`), so a fresh venv installs `ibr` or `ibr[conformance]` with `--no-index`.
"""

from __future__ import annotations

import email
import email.message
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .wheelhouse import build_wheelhouse

REPO = Path(__file__).resolve().parents[2]
EXTRAS_IN_WHEELHOUSE = ("", "conformance")


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation",
         "-w", out],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return next(out.glob("ibr-*.whl"))


@pytest.fixture(scope="session")
def wheelhouse(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel plus its runtime and `conformance` dependencies, for `pip --no-index`."""
    requires = wheel_metadata(built_wheel).get_all("Requires-Dist") or []
    wanted = [
        r
        for r in requires
        if Requirement(r).marker is None
        or any(Requirement(r).marker.evaluate({"extra": e}) for e in EXTRAS_IN_WHEELHOUSE)  # type: ignore[union-attr]
    ]
    house = tmp_path_factory.mktemp("wheelhouse")
    build_wheelhouse([str(Requirement(r)).split(";")[0] for r in wanted], house)
    (house / built_wheel.name).write_bytes(built_wheel.read_bytes())
    return house


@pytest.fixture(scope="session")
def fresh_venv(
    built_wheel: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A new virtualenv with `pip install <the wheel>` (no extras) from the wheelhouse."""
    root = tmp_path_factory.mktemp("fresh")
    made = subprocess.run([sys.executable, "-m", "venv", root / "venv"], capture_output=True)
    assert made.returncode == 0, made.stderr
    installed = subprocess.run(
        [root / "venv/bin/pip", "install", "--quiet", "--no-index",
         "--find-links", wheelhouse, built_wheel],
        cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return root / "venv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
