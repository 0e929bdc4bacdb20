"""DCI's own IBR compliance scenarios (`ibr-mockup-compliance`, 13 cucumber scenarios) against
our IBR: 13 of 13 in DCI sandbox mode (`ibr serve --dci-sandbox`); in production mode each is
refused, because each posts an empty body without Content-Type or credentials and requires
HTTP 200 (the standard requires a signed JSON envelope and a bearer token). The reasons, per
scenario, are in docs/dci-compatibility.md.

Needs npm and the suites in ../shared/reference/dci-suites; skipped without them unless
IBR_REQUIRE_NPM=1 (CI). Slow: `npm install` (about 20 s) and two runs (about 10 s each).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dci_suites

from ibr_service.cli.sandbox import dci_sandbox, sandbox
from ibr_service.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return dci_suites.prepare_mockup(tmp_path_factory.mktemp("ibr-scenarios"))
    except dci_suites.SuiteUnavailableError as exc:
        if os.environ.get("IBR_REQUIRE_NPM") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def test_sandbox_mode_passes_13_of_13(scenarios: Path) -> None:
    with dci_sandbox() as (url, _):
        run = dci_suites.run_mockup(scenarios, url)
    assert len(run.results) == 13, run.output
    assert run.count("passed") == 13, {n: run.errors.get(n) for n in run.summary()["failed"]}


def test_production_mode_refuses_every_unauthenticated_empty_post(
    scenarios: Path, tmp_path: Path
) -> None:
    with sandbox(Settings(database_url=f"sqlite:///{tmp_path}/ibr.db")) as box:
        run = dci_suites.run_mockup(scenarios, box.url)
    assert len(run.results) == 13, run.output
    assert run.count("passed") == 0
    statuses = {
        name: re.search(r"-(\d{3})\s+\+200", run.errors.get(name, "")) for name in run.results
    }
    refused = {name: m.group(1) for name, m in statuses.items() if m}
    # The scenarios stop at their first failed step: the HTTP status, except the second
    # sync-search scenario, which has no status step and fails on the missing flat item.
    assert set(refused.values()) <= {"404", "415"}, refused
    assert len(refused) == 12, run.errors
