"""Code lists (`spec/schemas/codes/*.schema.json`): codes, labels, and mapping DCI variants.

A code-list schema is `{"type": "string", "oneOf": [{"const": code, "title": label,
"x-aliases": [...]}, ...], "x-dci-prefixes": [...]}`; open lists (ISO 639-3 languages,
ISO 4217 currencies) are a `pattern` instead of `oneOf`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ibr_protocol.errors import NormalisationError, SpecError
from ibr_protocol.spec import read_json, spec_dir


@dataclass(frozen=True)
class CodeList:
    """One code list: its codes with labels, or the pattern of an open list."""

    name: str
    labels: dict[str, str]
    aliases: dict[str, str]
    """Lower-cased label, alias or code -> code."""
    prefixes: tuple[str, ...]
    pattern: re.Pattern[str] | None

    def lookup(self, value: str) -> str | None:
        """The code `value` stands for (code, label, alias or prefixed code), or None."""
        if value in self.labels:
            return value
        if self.pattern is not None:
            for candidate in (value, value.lower(), value.upper()):
                if self.pattern.search(candidate):
                    return candidate
            return None
        text = value.strip()
        prefix, sep, rest = text.partition(":")
        if sep and prefix.lower() in self.prefixes:
            text = rest.strip()
        if text in self.labels:
            return text
        return self.aliases.get(text.casefold())


def _read_code_list(name: str, path: Path) -> CodeList:
    schema: dict[str, Any] = read_json(path)
    labels: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for option in schema.get("oneOf", []):
        code = option["const"]
        labels[code] = option.get("title", code)
        for alias in (code, option.get("title", code), *option.get("x-aliases", [])):
            aliases.setdefault(str(alias).casefold(), code)
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    if not labels and pattern is None:
        raise SpecError(f"{path} is neither an enumerated nor a pattern code list", field=name)
    prefixes = tuple(p.lower() for p in schema.get("x-dci-prefixes", []))
    return CodeList(name=name, labels=labels, aliases=aliases, prefixes=prefixes, pattern=pattern)


@cache
def _code_list(root: Path, name: str) -> CodeList:
    path = root / "schemas" / "codes" / f"{name}.schema.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".schema.json") for p in path.parent.glob("*.json"))
        raise SpecError(f"unknown code list {name!r}; known: {', '.join(known)}", field=name)
    return _read_code_list(name, path)


def code_list(list_name: str) -> CodeList:
    """The code list called `list_name` (e.g. `"sex"`, `"benefit_type"`)."""
    return _code_list(spec_dir(), list_name)


def all_codes(list_name: str) -> list[str]:
    """Every code of an enumerated list, in spec order (empty for an open, pattern list)."""
    return list(code_list(list_name).labels)


def label_for(list_name: str, code: str) -> str:
    """The human label of a code, e.g. `label_for("benefit_type", "1") == "Cash"`."""
    codes = code_list(list_name)
    if codes.pattern is not None and code_for(list_name, code) == code:
        return code
    try:
        return codes.labels[code]
    except KeyError:
        raise NormalisationError(
            f"{code!r} is not a code of {list_name}; codes: {', '.join(codes.labels)}",
            field=list_name,
        ) from None


def code_for(list_name: str, value: str, *, field: str | None = None) -> str:
    """The canonical code for a code, label (any case), alias or prefixed code.

    `code_for("sex", "F") == "female"`, `code_for("benefit_type", "benefit:1") == "1"`.
    Raises NormalisationError naming the field and the valid codes when nothing matches.
    """
    codes = code_list(list_name)
    found = codes.lookup(value) if isinstance(value, str) else None
    if found is None:
        if codes.pattern is not None:
            choices = f"a value matching {codes.pattern.pattern}"
        else:
            choices = ", ".join(f"{code} ({label})" for code, label in codes.labels.items())
        raise NormalisationError(
            f"{value!r} is not a code, label or alias of {list_name}; expected {choices}",
            field=field or list_name,
            rule=f"code-list:{list_name}",
        )
    return found


def clear_caches() -> None:
    """Forget loaded code lists (for tests that point IBR_SPEC_DIR elsewhere)."""
    _code_list.cache_clear()
