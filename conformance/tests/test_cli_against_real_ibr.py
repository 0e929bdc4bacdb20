"""`ibr-conformance run` from the command line against the real IBR: the three reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from ibr_conformance.cli import app

from .browser import screenshot
from .real_ibr import RealIbr


def test_cli_run_writes_json_junit_html_and_evidence_bundle(
    ibr: RealIbr, suite_key_file: Path, tmp_path: Path
) -> None:
    """If this fails, a vendor running the CLI gets no (or incomplete) reports to hand in."""
    settings: dict[str, Any] = {
        "base_url": ibr.url,
        "client_id": "conf-main",
        "client_secret": ibr.secrets["conf-main"],
        "signing_key": str(suite_key_file),
        "phases": ["envelope", "security"],
        "output_dir": str(tmp_path / "out"),
    }
    config = tmp_path / "conformance.yaml"
    config.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--seed", "7"])
    assert result.exit_code in (0, 1), result.output
    out = tmp_path / "out"
    doc = json.loads((out / "report.json").read_text())
    assert (doc["seed"], doc["target"], len(doc["spec_hash"])) == (7, ibr.url, 64)
    assert ibr.secrets["conf-main"] not in (out / "report.json").read_text()
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")  # noqa: S314 - our own file
    assert len(list(cases)) == len(doc["checks"])
    assert "IBR-SEC-004" in (out / "report.html").read_text()
    names = zipfile.ZipFile(out / "evidence.zip").namelist()
    assert {"report.json", "junit.xml", "report.html", "manual-assessment.json"} <= set(names)
    assert screenshot(out / "report.html", tmp_path / "report.png") > 10_000
