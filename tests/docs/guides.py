"""The shell blocks a guide marks for testing, and a bash session that runs them in order.

A block is marked by an HTML comment on the line before its fence (invisible on the site):
`<!-- guide-test -->` runs as written; `<!-- guide-test: site-values -->` holds the reader's site
values (`NAME=value` lines), which the test replaces by its own (a scratch database, a temporary
directory, a free port), after checking that it supplies every name the guide asks for.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

MARKED_BLOCK = re.compile(
    r"^(?P<indent> *)<!-- guide-test(?P<kind>: site-values)? -->\n"
    r"(?P=indent)```(?:bash|sh)\n(?P<body>.*?)^(?P=indent)```$",
    re.M | re.S,
)
ASSIGNMENT = re.compile(r"^([A-Z_][A-Z0-9_]*)=", re.M)


@dataclass(frozen=True)
class Guide:
    site_values: tuple[str, ...]
    """Names the reader sets in the site-values block."""
    blocks: tuple[str, ...]
    """The blocks to run, in document order."""


def read_guide(path: Path) -> Guide:
    text = path.read_text(encoding="utf-8")
    names: list[str] = []
    blocks: list[str] = []
    for match in MARKED_BLOCK.finditer(text):
        body = textwrap.dedent(match["body"])  # a block inside a list item is indented
        if match["kind"]:
            names += ASSIGNMENT.findall(body)
        else:
            blocks.append(body)
    return Guide(tuple(names), tuple(blocks))


def run_guide(guide: Guide, values: dict[str, str], cwd: Path, env: dict[str, str]) -> str:
    """Run the blocks in one `bash` (as one terminal session) that stops at the first failure."""
    assert set(values) == set(guide.site_values), (
        f"the guide asks for {sorted(guide.site_values)}; the test supplies {sorted(values)}"
    )
    preamble = [f"{name}={value}" for name, value in values.items()]
    script = "\n".join(
        [
            "set -euo pipefail",
            "trap 'jobs -p | xargs -r kill 2>/dev/null' EXIT",
            *preamble,
            *(f"echo '### block {i}'\n{block}" for i, block in enumerate(guide.blocks, 1)),
        ]
    )
    session = subprocess.Popen(
        ["bash", "-c", script], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = session.communicate(timeout=900)
    finally:
        if session.poll() is None:
            os.killpg(session.pid, signal.SIGKILL)
            session.wait()
    assert session.returncode == 0, f"guide failed (exit {session.returncode}):\n{output[-6000:]}"
    return output
