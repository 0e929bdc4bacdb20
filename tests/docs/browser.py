"""Headless Chromium (Debian's `chromium`): a page's DOM after scripts ran, and screenshots.

`.ci/run` installs Chromium and sets IBR_REQUIRE_CHROMIUM=1, so in CI a missing browser fails
the test; elsewhere the browser tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("IBR_REQUIRE_CHROMIUM") == "1":
            pytest.fail("IBR_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    return found


def _run(page: Path, profile: Path, *args: str) -> str:
    done = subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", *args, page.as_uri(),
        ],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout


def dom(page: Path, profile: Path) -> str:
    """The page's HTML as the browser rendered it."""
    return _run(page, profile, "--dump-dom")


def screenshot(
    page: Path, shot: Path, profile: Path, *, width: int = 1280, height: int = 1600
) -> int:
    """Render `page` into the PNG `shot`; its size in bytes."""
    shot.parent.mkdir(parents=True, exist_ok=True)
    _run(page, profile, f"--screenshot={shot}", f"--window-size={width},{height}")
    return shot.stat().st_size
