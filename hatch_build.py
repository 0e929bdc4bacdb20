"""Build hook: the package version is the spec version it implements (``spec/VERSION``).

``1.0.0-ibr.N`` (DCI IBR 1.0.0, our revision N) is not a PEP 440 version; it becomes
``1.0.0.N``, so ``pip install "ibr>=1.0.0.2"`` asks for spec revision 2 or later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

SPEC_VERSION = re.compile(r"^(?P<dci>\d+\.\d+\.\d+)-ibr\.(?P<revision>\d+)$")


def package_version(spec_version: str) -> str:
    """``1.0.0-ibr.1`` -> ``1.0.0.1``; anything else is a build error naming the file."""
    match = SPEC_VERSION.match(spec_version.strip())
    if match is None:
        raise ValueError(
            f"spec/VERSION is {spec_version.strip()!r}; expected <dci version>-ibr.<revision>"
        )
    return f"{match['dci']}.{match['revision']}"


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        spec_version = (Path(self.root) / "spec" / "VERSION").read_text(encoding="utf-8")
        metadata["version"] = package_version(spec_version)
