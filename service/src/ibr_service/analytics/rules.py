"""The programme compatibility matrix, loaded from YAML (see programme_rules.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from ibr_service.analytics.errors import AnalyticsError

__all__ = ["DEFAULT_RULES_FILE", "CompatibilityRule", "ProgrammeRules", "load_rules"]

DEFAULT_RULES_FILE = Path(__file__).with_name("programme_rules.yaml")
Unit = Literal["person", "household"]


@dataclass(frozen=True)
class CompatibilityRule:
    programmes: tuple[str, str]  # sorted
    relation: Literal["exclude", "combine"]
    unit: Unit
    reason: str


@dataclass(frozen=True)
class ProgrammeRules:
    default: Literal["exclude", "combine"]
    statuses: Literal["open", "any"]
    rules: tuple[CompatibilityRule, ...]

    def excluded_pairs(self, programmes: list[str]) -> list[CompatibilityRule]:
        """Every pair of ``programmes`` (and of the rules) that must not combine."""
        listed = {rule.programmes: rule for rule in self.rules}
        out = [rule for rule in self.rules if rule.relation == "exclude"]
        if self.default == "exclude":
            names = sorted(set(programmes))
            for n, a in enumerate(names):
                for b in names[n + 1 :]:
                    if (a, b) not in listed:
                        out.append(CompatibilityRule((a, b), "exclude", "person", "default"))
        return out


def _one_of(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise AnalyticsError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def load_rules(path: Path | None = None) -> ProgrammeRules:
    """Read and check a rules file; every mistake is one line naming the file and the field."""
    path = path or DEFAULT_RULES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AnalyticsError(f"cannot read programme rules {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise AnalyticsError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise AnalyticsError(f"{path}: expected a mapping with 'rules'")
    rules = []
    seen: set[tuple[str, str]] = set()
    for n, raw in enumerate(data.get("rules") or []):
        where = f"{path.name}: rules[{n}]"
        pair = raw.get("programmes") if isinstance(raw, dict) else None
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise AnalyticsError(f"{where}.programmes: expected two programme codes")
        a, b = sorted(pair)
        if a == b or (a, b) in seen:
            raise AnalyticsError(f"{where}.programmes: {a} x {b} is repeated or not a pair")
        seen.add((a, b))
        rules.append(
            CompatibilityRule(
                programmes=(a, b),
                relation=_one_of(raw.get("relation", "exclude"), ("exclude", "combine"), where),  # type: ignore[arg-type]
                unit=_one_of(raw.get("unit", "person"), ("person", "household"), where),  # type: ignore[arg-type]
                reason=str(raw.get("reason", "")),
            )
        )
    return ProgrammeRules(
        default=_one_of(data.get("default", "combine"), ("combine", "exclude"), path.name),  # type: ignore[arg-type]
        statuses=_one_of(data.get("statuses", "any"), ("open", "any"), path.name),  # type: ignore[arg-type]
        rules=tuple(rules),
    )
