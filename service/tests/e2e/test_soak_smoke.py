"""The soak benchmark (benchmarks/soak.py) for a few seconds: every kind of request is sent and
answered without error, every async search calls back, and the server's memory is read.
No timing is asserted (the benchmark prints its figures; docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_short_soak_sends_every_kind_without_error() -> None:
    """If this fails, the soak benchmark is broken (it would report nothing on a 10-minute run)
    or the IBR refuses or loses some of the ordinary mixed traffic it sends."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--minutes", "0.2", "--wait", "30"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["errors"] == 0, report["first_errors"]
    for kind in ("ingest", "enrolled", "search", "async_search"):
        assert report["kinds"][kind]["requests"] > 0, kind
        assert report["kinds"][kind]["errors"] == 0, kind
    assert report["callback_delivery"]["delivered"] == report["kinds"]["async_search"]["requests"]
    assert report["beneficiaries_ingested"] == 20 * report["kinds"]["ingest"]["requests"]
    assert report["server_rss_kb"]["start"] > 0
    assert report["server_rss_kb"]["end"] > 0
