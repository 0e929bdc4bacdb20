"""spec/bundled/openapi.yaml loads in the JavaScript tools vendors use: swagger-parser, AJV
(2020-12 class, and the default class over a dereferenced copy, as DCI test kits do) and
Redocly CLI lint. Installs them with `npm install` into a temporary folder.

Skipped when npm is not on PATH, unless IBR_REQUIRE_NPM=1 (CI sets it: there it fails instead).
Slow on a cold npm cache (about a minute); the npm registry must be reachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ibr_protocol.bundle import BUNDLE_PATH

SPEC = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent / "js"
BUNDLE = SPEC / BUNDLE_PATH


@pytest.fixture(scope="module")
def js_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("IBR_REQUIRE_NPM") == "1":
            pytest.fail("IBR_REQUIRE_NPM=1 but npm/node are not on PATH")
        pytest.skip("npm/node not on PATH (set IBR_REQUIRE_NPM=1 to fail instead)")
    folder = tmp_path_factory.mktemp("bundle-js-tools")
    for name in ("package.json", "check_bundle.mjs"):
        shutil.copy(TOOLS / name, folder / name)
    installed = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return folder


def test_swagger_parser_and_ajv_load_the_bundle_and_validate_the_examples(js_tools: Path) -> None:
    run = subprocess.run(
        ["node", "check_bundle.mjs", str(BUNDLE), str(SPEC / "examples" / "valid")],
        cwd=js_tools,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:] or run.stdout[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["components"] >= 100
    assert figures["examples"] >= 10
    assert figures["dereferenced_bodies"] >= 10


def test_redocly_lint_finds_no_error(js_tools: Path) -> None:
    run = subprocess.run(
        ["npx", "--no-install", "redocly", "lint", str(BUNDLE), "--format=json"],
        cwd=js_tools,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stdout[run.stdout.index("{") :])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert not errors, [(p["ruleId"], p["location"][0]["pointer"]) for p in errors]
    assert run.returncode == 0
