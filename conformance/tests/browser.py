"""Screenshots of the HTML report in headless Chromium (Debian's `chromium` package).

`.ci/run` installs Chromium and sets IBR_REQUIRE_CHROMIUM=1, so that in CI a missing browser
fails the test instead of skipping it; elsewhere the screenshot tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("IBR_REQUIRE_CHROMIUM") == "1":
            pytest.fail("IBR_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    return found


def screenshot(page: Path, shot: Path, *, width: int = 1280, height: int = 2000) -> int:
    """Render `page` headless into `shot` (PNG); the PNG's size in bytes."""
    subprocess.run(
        [
            chromium_or_skip(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={shot.parent / 'chromium-profile'}",
            f"--screenshot={shot}",
            f"--window-size={width},{height}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return shot.stat().st_size
