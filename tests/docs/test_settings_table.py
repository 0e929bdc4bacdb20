"""docs/settings.md is generated from the settings classes and lists every variable read."""

from __future__ import annotations

import re

from .gen import REPO, load

settings_table = load("settings_table")
SOURCE_DIRS = ("protocol", "service", "reference_client", "conformance", "mock_data")
# A literal IBR_ name not ending in "_" (a prefix such as "IBR_CLIENT_" is not a variable).
VARIABLE = re.compile(r"[\"'`(= ](IBR_[A-Z0-9_]*[A-Z0-9])\b")


def _variables_in_source() -> set[str]:
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (REPO / folder / "src").rglob("*.py"):
            found |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_settings_file_is_up_to_date() -> None:
    assert (REPO / "docs/settings.md").read_text(encoding="utf-8") == settings_table.render(), (
        "docs/settings.md is stale: run .venv/bin/python docs/_gen/settings_table.py"
    )


def test_every_setting_has_a_meaning() -> None:
    assert settings_table.undocumented() == []


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    documented = set(re.findall(r"^\| `(IBR_[A-Z0-9_]+)`", settings_table.render(), re.M))
    in_source = _variables_in_source()
    assert in_source, "the scan found no IBR_ variable at all: the pattern is broken"
    assert in_source - documented == set(), "read by the code but not in docs/settings.md"


def test_the_scan_sees_a_variable_read_with_os_environ() -> None:
    assert VARIABLE.findall('os.environ.get("IBR_SPEC_DIR")') == ["IBR_SPEC_DIR"]
    assert VARIABLE.findall('ENV_PREFIX = "IBR_CLIENT_"') == []
