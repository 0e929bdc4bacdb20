"""CHANGELOG.md assembled from the fragments in changes/ (one user-visible change each).

`scripts/changelog` writes the file; the documentation site renders the same text at build time.
A fragment holds one change per line, `- ` bullets (indented continuation lines), or a wrapped
paragraph; an entry ends at a blank line or at a line that ends a sentence.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHANGES = REPO / "changes"
TARGET = REPO / "CHANGELOG.md"


def entries(text: str) -> list[str]:
    found: list[list[str]] = []
    ended = True
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            ended = True
            continue
        if line.startswith("- "):
            found.append([line[2:].strip()])
        elif line[0].isspace() and found:
            found[-1].append(line.strip())
        elif ended or not found:
            found.append([line.strip()])
        else:
            found[-1].append(line.strip())
        ended = line.endswith(".")
    return [" ".join(parts) for parts in found]


def _version() -> tuple[str, str]:
    spec = (REPO / "spec" / "VERSION").read_text(encoding="utf-8").strip()
    dci, revision = spec.split("-ibr.")
    return f"{dci}.{revision}", spec


def render() -> str:
    package, spec = _version()
    lines = [
        "# Changelog",
        "",
        "Assembled from the fragments in `changes/` by `scripts/changelog`; add a fragment there",
        "instead of editing this file.",
        "",
        f"## {package} (spec {spec}), unreleased",
        "",
    ]
    for fragment in sorted(CHANGES.glob("*.md")):
        lines += [f"### {fragment.stem.replace('-', ' ')}", ""]
        lines += [f"- {entry}" for entry in entries(fragment.read_text(encoding="utf-8"))]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}", file=sys.stderr)
