"""docs/settings.md: every environment variable, its default and meaning, from the settings classes.

Run `python docs/_gen/settings_table.py` to rewrite the file; `tests/docs/test_settings_table.py`
fails when it is stale or when a setting has no description.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "docs" / "settings.md"


@dataclass(frozen=True)
class Source:
    title: str
    prefix: str
    model: type[BaseModel]
    where: str
    intro: str


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


# Variables read outside the settings classes; each names the code that reads it.
OTHER_VARIABLES = (
    Variable(
        "IBR_SPEC_DIR",
        "the wheel's copy, else the checkout's `spec/`",
        "Directory of the spec the protocol library loads (`ibr_protocol.spec`)",
    ),
    Variable(
        "IBR_CALLBACK_CLIENT_SECRET",
        "",
        "`ibr clients add/callback-auth`: the IBR's secret at an SP-MIS token endpoint, "
        "kept out of the shell history",
    ),
    Variable(
        "IBR_CLIENT_CONFIG",
        "",
        "`ibr-client --config`: path of the reference SP-MIS's TOML file",
    ),
    Variable(
        "IBR_REQUIRE_CHROMIUM",
        "",
        "Tests only: `1` (set by `.ci/run`) makes a missing Chromium fail the screenshot tests",
    ),
)


def sources() -> list[Source]:
    from ibr_client.config import ENV_PREFIX, ClientConfig
    from ibr_conformance.config import RunConfig
    from ibr_service.settings import Settings

    return [
        Source(
            "IBR service (`ibr`)",
            str(Settings.model_config.get("env_prefix")),
            Settings,
            "ibr_service.settings.Settings",
            "Read by `ibr serve`, `ibr db upgrade`, `ibr clients ...`, `ibr outbox run`.",
        ),
        Source(
            "Reference SP-MIS (`ibr-client`)",
            ENV_PREFIX,
            ClientConfig,
            "ibr_client.config.ClientConfig",
            "Also keys of the TOML file given with `--config` (environment wins over the file; "
            "see `reference_client/ibr-client.toml.example`).",
        ),
        Source(
            "Conformance suite (`ibr-conformance`)",
            str(RunConfig.model_config.get("env_prefix")),
            RunConfig,
            "ibr_conformance.config.RunConfig",
            "Also keys of the YAML/TOML file given with `--config`; flags win over the "
            "environment, the environment over the file.",
        ),
    ]


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, tuple | list | frozenset | set):
        value = ",".join(str(_plain(v)) for v in value)
    if isinstance(value, dict):
        value = value or ""
    if value is None or value == "":
        return ""
    return f"`{_plain(value)}`"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return str(value).lower()
    return value


def variables(source: Source) -> list[Variable]:
    found = []
    for name, field in source.model.model_fields.items():
        if field.default is not PydanticUndefined:
            default = _show(field.default)
        elif field.default_factory is not None:
            default = _show(field.default_factory())  # type: ignore[call-arg]
        else:
            default = "(required)"
        meaning = " ".join((field.description or "").split())
        found.append(Variable(source.prefix + name.upper(), default, meaning))
    return found


def undocumented() -> list[str]:
    """Variables whose setting has no description."""
    missing = [v.name for s in sources() for v in variables(s) if not v.meaning]
    return missing + [v.name for v in OTHER_VARIABLES if not v.meaning]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rows: list[Variable]) -> list[str]:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{v.name}` | {_escape(v.default)} | {_escape(v.meaning)} |" for v in rows]
    return lines


def render() -> str:
    lines = [
        "# Settings",
        "",
        "Every environment variable the IBR, the reference SP-MIS and the conformance suite read,",
        "with its default and meaning. Generated from the settings classes by",
        "`docs/_gen/settings_table.py`; do not edit by hand (a test fails when it is stale).",
        "Booleans take `true`/`false` (also `1`/`0`); lists are comma-separated or JSON.",
        "",
    ]
    for source in sources():
        lines += [f"## {source.title}", "", f"`{source.where}`. {source.intro}", ""]
        lines += [*_table(variables(source)), ""]
    lines += ["## Other variables", "", *_table(list(OTHER_VARIABLES)), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}", file=sys.stderr)
