"""Where the spec lives on disk, and reading its files.

The spec directory is, in order: the `IBR_SPEC_DIR` environment variable; the copy packaged
inside a built wheel (`ibr_protocol/_spec`); the repository's `spec/` next to `protocol/`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ibr_protocol.errors import SpecError

PROTOCOL_VERSION = "1.0.0"
"""The DCI messaging protocol version we speak (`header.version`)."""

_PACKAGED_SPEC = Path(__file__).resolve().parent / "_spec"
_REPO_SPEC = Path(__file__).resolve().parents[3] / "spec"
SCHEMA_SUFFIX = ".schema.json"


def spec_dir() -> Path:
    """The spec directory in use; raises SpecError when none of the candidates exists."""
    configured = os.environ.get("IBR_SPEC_DIR")
    if configured:
        path = Path(configured)
        if not path.is_dir():
            raise SpecError(f"IBR_SPEC_DIR={configured} is not a directory", field="IBR_SPEC_DIR")
        return path
    return _default_spec_dir()


@cache
def _default_spec_dir() -> Path:
    """The packaged or the repository's spec: looked up once (every validation asks; two
    `stat` calls per record were a twentieth of ingest)."""
    for candidate in (_PACKAGED_SPEC, _REPO_SPEC):
        if candidate.is_dir():
            return candidate
    raise SpecError(
        f"no spec directory: set IBR_SPEC_DIR, or install the wheel (ibr_protocol/_spec), "
        f"or run from a checkout ({_REPO_SPEC})"
    )


def _read_version() -> str:
    try:
        return (spec_dir() / "VERSION").read_text(encoding="utf-8").strip() or PROTOCOL_VERSION
    except (OSError, SpecError):
        return PROTOCOL_VERSION


SPEC_VERSION: str = _read_version()
"""The spec revision (`1.0.0-ibr.N`), from `spec/VERSION`; `1.0.0` when that file is absent."""


def read_json(path: Path) -> Any:
    """Parse one JSON file, naming the file in the error when it is not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}", field=str(path)) from exc


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, naming the file in the error when it is not valid YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read {path}: {exc}", field=str(path)) from exc


@cache
def _load_openapi(path: Path) -> dict[str, Any]:
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise SpecError(f"{path} is not an OpenAPI document (top level is not a mapping)")
    return document


def load_openapi() -> dict[str, Any]:
    """The parsed `spec/openapi.yaml` (cached; do not mutate it)."""
    return _load_openapi(spec_dir() / "openapi.yaml")


def schema_files(root: Path | None = None) -> Iterator[tuple[str, Path]]:
    """Yield `(name, path)` for every schema, name like `"messages/search_request"`."""
    schemas = (root or spec_dir()) / "schemas"
    for path in sorted(schemas.rglob(f"*{SCHEMA_SUFFIX}")):
        relative = path.relative_to(schemas).as_posix()
        yield relative[: -len(SCHEMA_SUFFIX)], path


def example_files(kind: str, root: Path | None = None) -> list[Path]:
    """Every JSON file under `spec/examples/<kind>` (`valid`, `invalid`, `dci-variants`)."""
    folder = (root or spec_dir()) / "examples" / kind
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []
