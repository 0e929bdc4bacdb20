"""mkdocs hooks: the spec reference pages are generated from spec/ at build time.

`mkdocs.yml` names this file under `hooks:`. The nav entry "Spec reference" is expanded into the
generated pages, so a new operation or schema shows up without editing the nav.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import changelog
import reference
from mkdocs.structure.files import File, Files

REFERENCE_NAV_TITLE = "Spec reference"


def on_config(config: Any) -> Any:
    for index, entry in enumerate(config["nav"] or []):
        if isinstance(entry, dict) and REFERENCE_NAV_TITLE in entry:
            config["nav"][index] = {REFERENCE_NAV_TITLE: reference.nav()}
    return config


def on_files(files: Files, config: Any) -> Files:
    for path, content in reference.pages().items():
        files.append(File.generated(config, path, content=content))
    files.append(File.generated(config, "changelog.md", content=changelog.render()))
    _add_pages_missing_from_nav(files, config)
    return files


def _nav_paths(entry: Any) -> set[str]:
    if isinstance(entry, str):
        return {entry}
    if isinstance(entry, dict):
        return set().union(*(_nav_paths(value) for value in entry.values()))
    if isinstance(entry, list):
        return set().union(*(_nav_paths(item) for item in entry))
    return set()


def _add_pages_missing_from_nav(files: Files, config: Any) -> None:
    """A page another engineer adds to docs/ shows up under "More" instead of nowhere."""
    listed = _nav_paths(config["nav"])
    extra = sorted(
        f.src_uri
        for f in files.documentation_pages()
        if f.src_uri not in listed and "/" not in f.src_uri
    )
    if extra:
        config["nav"].append({"More": [{Path(uri).stem.replace("-", " "): uri} for uri in extra]})
