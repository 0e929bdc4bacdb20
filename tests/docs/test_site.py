"""The documentation site builds strictly and carries every operation, schema and requirement.

The expected items are read from spec/ here, independently of the generator, so an operation,
schema, code, requirement or workflow the generator drops (or a page it fails to write) fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import yaml

from .browser import dom, screenshot
from .gen import REPO

SPEC = REPO / "spec"
DCI_OPERATIONS = 13


def _openapi_operations() -> dict[str, str]:
    """operationId -> path, from spec/openapi.yaml."""
    doc = yaml.safe_load((SPEC / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        op["operationId"]: path
        for path, item in doc["paths"].items()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    built = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", out],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    assert "WARNING" not in built.stderr, built.stderr[-4000:]
    return out


def _text(page: Path) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def test_every_operation_has_a_page_with_its_schemas(site: Path) -> None:
    operations = _openapi_operations()
    assert len([o for o in operations if o.startswith("post_reg_")]) == DCI_OPERATIONS
    for operation_id, path in operations.items():
        page = site / "reference" / "operations" / f"{operation_id}.html"
        assert page.is_file(), f"no page for {operation_id}"
        text = _text(page)
        assert path in text
        assert "Responses" in text


def test_every_example_is_shown_on_its_operation_page(site: Path) -> None:
    for folder in (SPEC / "examples" / "valid").iterdir():
        page = site / "reference" / "operations" / f"{folder.name}.html"
        if not page.is_file():
            continue  # examples of shared bodies (errors/) belong to no single operation
        text = _text(page)
        for example in folder.glob("*.json"):
            assert example.name in text, f"{example.name} missing from {page.name}"


def test_every_schema_and_code_is_on_a_schema_page(site: Path) -> None:
    for path in (SPEC / "schemas").glob("*/*.schema.json"):
        group, name = path.parent.name, path.name.removesuffix(".schema.json")
        html = (site / "reference" / "schemas" / f"{group}.html").read_text(encoding="utf-8")
        key = f"{group}/{name}"
        assert f'id="{key.replace("/", "-").replace("_", "-")}"' in html, f"{key} missing"
        schema = json.loads(path.read_text(encoding="utf-8"))
        for entry in schema.get("oneOf", []):
            if "const" in entry:
                assert f"<code>{entry['const']}</code>" in html, f"{key}: {entry['const']}"


def test_every_requirement_is_listed_with_its_level(site: Path) -> None:
    catalogue = yaml.safe_load((SPEC / "requirements.yaml").read_text(encoding="utf-8"))
    html = (site / "reference" / "requirements.html").read_text(encoding="utf-8")
    rows = dict(re.findall(r'<span id="(IBR-[A-Z]+-\d+)">.*?</td>\s*<td>(\w+)</td>', html, re.S))
    for requirement in catalogue["requirements"]:
        assert rows.get(requirement["id"]) == requirement["level"], requirement["id"]


def test_requirements_name_the_checks_that_test_them(site: Path) -> None:
    text = _text(site / "reference" / "requirements.html")
    listed = subprocess.run(
        [Path(sys.executable).parent / "ibr-conformance", "list-checks"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    names = {line.split()[2] for line in listed if line.strip()}
    assert names, "ibr-conformance list-checks printed no check"
    missing = {name for name in names if name not in text}
    assert not missing, f"checks not on the requirements page: {sorted(missing)[:5]}"


def test_workflows_security_profile_and_deviations_are_rendered(site: Path) -> None:
    workflows = _text(site / "reference" / "workflows.html")
    for path in (SPEC / "workflows").glob("*.arazzo.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["info"]["title"] in workflows
        for flow in doc["workflows"]:
            for step in flow["steps"]:
                assert step["stepId"] in workflows
    deviations = _text(site / "reference" / "deviations.html")
    for row in re.findall(r"^\| (DEV-[A-Z]+-\d+) ", (SPEC / "DEVIATIONS.md").read_text(), re.M):
        assert row in deviations
    profile = _text(site / "reference" / "security-profile.html")
    first_heading = re.search(r"^# (.+)$", (SPEC / "security-profile.md").read_text(), re.M)
    assert first_heading
    assert first_heading[1].strip() in profile


def test_the_reference_page_in_a_browser_lists_every_operation(site: Path, tmp_path: Path) -> None:
    page = site / "reference" / "index.html"
    rendered = dom(page, tmp_path / "profile")
    links = set(re.findall(r'href="operations/([\w-]+)\.html"', rendered))
    assert links >= set(_openapi_operations()), set(_openapi_operations()) - links
    shot = REPO / "docs" / "screenshots" / "spec-reference.png"
    assert screenshot(page, shot, tmp_path / "profile") > 20_000  # a blank page is ~5 kB
