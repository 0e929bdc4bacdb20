"""The normative requirement catalogue (`spec/requirements.yaml`) as typed values.

Every check names the requirement ids it verifies; the level of each id (MUST / SHOULD / MAY)
decides whether a broken requirement is a `fail` or a `warn`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ibr_conformance.errors import CatalogueError

__all__ = ["Level", "Requirement", "RequirementCatalogue", "default_catalogue_path"]


class Level(StrEnum):
    """RFC 2119 strength of a requirement ("MUST NOT" is a MUST, "SHALL" a MUST, ...)."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"

    @classmethod
    def parse(cls, raw: str) -> Level:
        word = raw.strip().upper().replace("_", " ")
        aliases = {
            "MUST": cls.MUST,
            "MUST NOT": cls.MUST,
            "SHALL": cls.MUST,
            "SHALL NOT": cls.MUST,
            "REQUIRED": cls.MUST,
            "SHOULD": cls.SHOULD,
            "SHOULD NOT": cls.SHOULD,
            "RECOMMENDED": cls.SHOULD,
            "MAY": cls.MAY,
            "OPTIONAL": cls.MAY,
        }
        if word not in aliases:
            raise CatalogueError(f"unknown level {raw!r}; expected one of {sorted(aliases)}")
        return aliases[word]


@dataclass(frozen=True)
class Requirement:
    """One normative statement of the spec."""

    id: str
    level: Level
    text: str
    applies_to: tuple[str, ...] = ()
    """Roles the requirement binds (`ibr`, `sp-mis`); empty means the catalogue did not say."""
    capability: str | None = None
    """Optional capability a system may claim or not (e.g. `subscriptions`)."""


def _entries(raw: Any) -> Iterator[Mapping[str, Any]]:
    # Accept a plain list, `{requirements: [...]}`, or a mapping id -> entry.
    if isinstance(raw, Mapping) and "requirements" in raw:
        raw = raw["requirements"]
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, Mapping):
                raise CatalogueError(f"requirement entry {item!r} is not a mapping")
            yield item
    elif isinstance(raw, Mapping):
        for key, item in raw.items():
            if isinstance(item, Mapping):
                yield {"id": key, **item}
    else:
        raise CatalogueError("requirements.yaml must hold a list or a `requirements:` list")


_SIDES = {"both": ("ibr", "sp-mis"), "ibr": ("ibr",), "sp-mis": ("sp-mis",)}


def _roles(entry: Mapping[str, Any]) -> tuple[str, ...]:
    # spec/requirements.yaml says `side: IBR | SP-MIS | both`; older drafts said `applies_to`.
    if "side" in entry:
        side = str(entry["side"]).lower().replace("_", "-")
        if side not in _SIDES:
            raise CatalogueError(
                f"requirement {entry.get('id')}: side {entry['side']!r} is not IBR, SP-MIS or both"
            )
        return _SIDES[side]
    raw = entry.get("applies_to", entry.get("role", entry.get("roles", ())))
    if isinstance(raw, str):
        raw = [raw]
    return tuple(str(r).lower().replace("_", "-") for r in raw)


class RequirementCatalogue(Mapping[str, Requirement]):
    """Requirements by id, in file order."""

    def __init__(self, requirements: Iterable[Requirement], *, source: str = "") -> None:
        self._by_id: dict[str, Requirement] = {}
        for req in requirements:
            if req.id in self._by_id:
                raise CatalogueError(f"requirement id {req.id} appears twice in {source}")
            self._by_id[req.id] = req
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> RequirementCatalogue:
        """Read `requirements.yaml`; raises `CatalogueError` naming the entry that is wrong."""
        if not path.is_file():
            raise CatalogueError(f"requirement catalogue {path} not found")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogueError(f"{path} is not valid YAML: {exc}") from exc
        reqs = []
        for entry in _entries(raw):
            rid = entry.get("id")
            level = entry.get("level", entry.get("keyword", entry.get("strength")))
            if not rid or not level:
                raise CatalogueError(f"{path}: entry {dict(entry)!r} lacks `id` or `level`")
            text = entry.get("text", entry.get("statement", entry.get("title", "")))
            reqs.append(
                Requirement(
                    id=str(rid),
                    level=Level.parse(str(level)),
                    text=" ".join(str(text).split()),
                    applies_to=_roles(entry),
                    capability=entry.get("capability"),
                )
            )
        return cls(reqs, source=str(path))

    def __getitem__(self, key: str) -> Requirement:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def level_of(self, rid: str) -> Level:
        """Level of `rid`; an id missing from the catalogue counts as MUST (fail loud)."""
        req = self._by_id.get(rid)
        return req.level if req else Level.MUST

    def binding(self, role: str, level: Level = Level.MUST) -> list[Requirement]:
        """Requirements of `level` that bind `role` (or that name no role)."""
        return [
            r
            for r in self._by_id.values()
            if r.level is level and (not r.applies_to or role in r.applies_to)
        ]


def default_catalogue_path() -> Path:
    """`spec/requirements.yaml` of the spec the protocol library reads."""
    from ibr_protocol import spec_dir

    return spec_dir() / "requirements.yaml"
