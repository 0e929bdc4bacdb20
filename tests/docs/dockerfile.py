"""The instructions of a Dockerfile's final stage that decide how its container runs."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FinalStage:
    user: str = "root"
    env: dict[str, str] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)
    """Destination in the image -> source in the build context (plain COPY only)."""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _exec_form(rest: str) -> list[str]:
    assert rest.startswith("["), f"use the exec form (JSON array): {rest}"
    return list(json.loads(rest))


def final_stage(path: Path) -> FinalStage:
    stage = FinalStage()
    for keyword, rest in _instructions(path.read_text(encoding="utf-8")):
        if keyword == "FROM":
            stage = FinalStage()
        elif keyword == "USER":
            stage.user = rest
        elif keyword == "ENV":
            stage.env.update(dict(part.split("=", 1) for part in shlex.split(rest)))
        elif keyword == "COPY" and not rest.startswith("--"):
            *sources, destination = rest.split()
            for source in sources:
                stage.copies[destination] = source
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = _exec_form(rest)
        elif keyword == "CMD":
            stage.cmd = _exec_form(rest)
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = _exec_form(rest.split(" CMD ", 1)[1])
    return stage
