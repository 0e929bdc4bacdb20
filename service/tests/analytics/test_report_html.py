"""The HTML report opens in headless Chromium, its charts draw data, and a screenshot is saved.

`.ci/run` installs Debian's chromium and sets IBR_REQUIRE_CHROMIUM=1, so that in CI a missing
browser fails these tests; elsewhere they skip with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ibr_service.analytics.coverage import age_band
from ibr_service.analytics.exports import write_report
from ibr_service.analytics.reports import coverage_report

from .conftest import Population

AS_OF = dt.date(2025, 6, 30)
CHARTS = ("coverage-by-area", "overlap-heatmap", "benefit-value", "age-sex-pyramid")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("IBR_REQUIRE_CHROMIUM") == "1":
            pytest.fail("IBR_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    return found


def browse(page: Path, *args: str) -> str:
    result = subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={page.parent / 'chromium-profile'}", *args, page.as_uri(),
        ],
        check=True, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return result.stdout


def reference_population(mock: Population) -> pd.DataFrame:
    """The whole synthetic population (enrolled or not) by region x sex x age band."""
    rows = [
        (household.locality.region_code, person.sex, person.birth_ord)
        for household in mock.households
        for person in household.members
    ]
    people = pd.DataFrame(rows, columns=["area_code", "sex", "birth_ord"])
    age = (AS_OF.toordinal() - people["birth_ord"]) // 365.25
    people["age_band"] = age_band(age.astype("Float64"))
    grouped = people.groupby(["area_code", "sex", "age_band"]).size()
    return grouped.rename("population").reset_index()


@pytest.fixture(scope="module")
def page(mock: Population, tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = coverage_report(mock.frames, as_of=AS_OF, reference=reference_population(mock))
    path = tmp_path_factory.mktemp("report") / "coverage.html"
    write_report(report, "html", path)
    return path


def test_the_report_is_self_contained(page: Path) -> None:
    text = page.read_text()
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text)
    assert tags, "the page has its scripts inline"
    assert not [t for t in tags if re.search(r"\b(src|href)=", t)], "nothing loaded from elsewhere"
    for chart in CHARTS:
        assert f'id="{chart}"' in text


def test_every_chart_draws_data_in_a_browser(page: Path) -> None:
    dom = browse(page, "--virtual-time-budget=20000", "--dump-dom")
    found = re.search(r'<pre id="render-check">([^<]*)</pre>', dom)
    assert found is not None, "the page has no render check"
    assert found.group(1), "the page's render check did not run"
    drawn = json.loads(found.group(1))
    for chart in CHARTS:
        assert drawn[chart]["values"] > 0, f"{chart} has no data"
        assert drawn[chart]["marks"] > 0, f"{chart} drew nothing"
    assert drawn["coverage-by-area"]["marks"] >= 8, "one bar per area at least"


def test_a_screenshot_is_saved(page: Path) -> None:
    shot = page.with_suffix(".png")
    browse(page, "--virtual-time-budget=20000", f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 60_000, "a blank page compresses to a few kilobytes"
    keep = os.environ.get("IBR_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "analytics-coverage-report.png")
