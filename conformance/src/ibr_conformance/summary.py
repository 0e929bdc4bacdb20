"""Roll check results up into per-requirement outcomes and a verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ibr_conformance.manual import not_automated
from ibr_conformance.phases import Phase
from ibr_conformance.requirements import Level, RequirementCatalogue
from ibr_conformance.results import CheckResult, Outcome

__all__ = [
    "Completeness",
    "RequirementOutcome",
    "completeness",
    "counts",
    "headline",
    "requirement_counts",
    "requirement_outcomes",
    "verdict",
]

NOT_TESTED = "not-tested"


@dataclass(frozen=True)
class RequirementOutcome:
    """What the run concluded about one requirement."""

    id: str
    level: str
    text: str
    outcome: str
    """pass / fail / warn / skip / error; manual / not-testable (see `ibr_conformance.manual`);
    not-tested (no check ran for it)."""
    checks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "text": self.text,
            "outcome": self.outcome,
            "checks": list(self.checks),
        }


def _fold(rid: str, results: Iterable[CheckResult], level: Level) -> str:
    mine = [r for r in results if rid in r.requirement_ids]
    if not mine:
        manual = not_automated(rid)
        return manual.classification.value if manual else NOT_TESTED
    if any(rid in f.requirement_ids for r in mine for f in r.failures):
        return Outcome.FAIL.value if level is Level.MUST else Outcome.WARN.value
    for outcome in (Outcome.ERROR, Outcome.PASS, Outcome.SKIP):
        if any(r.outcome is outcome for r in mine):
            return outcome.value
    # Only failing checks that blamed other ids of theirs: this requirement itself held.
    return Outcome.PASS.value


def requirement_outcomes(
    results: Sequence[CheckResult], catalogue: RequirementCatalogue, *, role: str
) -> list[RequirementOutcome]:
    """One row per catalogue requirement binding `role`, plus ids checks name but the file lacks."""
    rows = []
    known = set()
    for req in catalogue.values():
        if req.applies_to and role not in req.applies_to:
            continue
        known.add(req.id)
        rows.append(
            RequirementOutcome(
                id=req.id,
                level=req.level.value,
                text=req.text,
                outcome=_fold(req.id, results, req.level),
                checks=tuple(r.check for r in results if req.id in r.requirement_ids),
            )
        )
    stray = sorted({rid for r in results for rid in r.requirement_ids} - set(catalogue))
    for rid in stray:
        rows.append(
            RequirementOutcome(
                id=rid,
                level=Level.MUST.value,
                text="(not in the requirement catalogue)",
                outcome=_fold(rid, results, Level.MUST),
                checks=tuple(r.check for r in results if rid in r.requirement_ids),
            )
        )
    return rows


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    c = Counter(r.outcome.value for r in results)
    return {o.value: c.get(o.value, 0) for o in Outcome}


def verdict(results: Sequence[CheckResult]) -> bool:
    """True when no check failed or errored: every tested MUST holds."""
    return not any(r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in results)


_UNTESTED = frozenset({Outcome.SKIP.value, Outcome.ERROR.value, NOT_TESTED})


@dataclass(frozen=True)
class Completeness:
    """Whether a run can stand for the whole profile: every phase ran, every check was
    selected, and no MUST was left skipped, erroring or without a check."""

    untested_musts: tuple[str, ...]
    phases_left_out: tuple[str, ...]
    checks_selected: bool

    @property
    def complete(self) -> bool:
        return not (self.untested_musts or self.phases_left_out or self.checks_selected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "untested_musts": list(self.untested_musts),
            "phases_left_out": list(self.phases_left_out),
            "checks_selected": self.checks_selected,
        }


def completeness(rows: Sequence[RequirementOutcome], config: Mapping[str, Any]) -> Completeness:
    """What keeps this run from certifying the whole profile (nothing, when complete)."""
    ran = {str(p) for p in config.get("phases") or [p.value for p in Phase]}
    return Completeness(
        untested_musts=tuple(
            sorted(r.id for r in rows if r.level == Level.MUST.value and r.outcome in _UNTESTED)
        ),
        phases_left_out=tuple(p.value for p in Phase if p.value not in ran),
        checks_selected=bool(config.get("checks")),
    )


def requirement_counts(rows: Sequence[RequirementOutcome], level: str = "MUST") -> dict[str, int]:
    """How many requirements of ``level`` ended in each outcome (what the report's table lists)."""
    c = Counter(r.outcome for r in rows if r.level == level)
    return dict(sorted(c.items()))


def headline(conformant: bool, scope: Completeness) -> str:
    """The verdict in words: CONFORMANT only for a complete run in which no MUST failed."""
    if not conformant:
        return "NOT CONFORMANT"
    if scope.complete:
        return "CONFORMANT"
    left = []
    if scope.untested_musts:
        left.append(f"{len(scope.untested_musts)} MUST(s) untested")
    if scope.phases_left_out:
        left.append(f"phases not run: {', '.join(scope.phases_left_out)}")
    if scope.checks_selected:
        left.append("only selected checks ran")
    return f"PARTIAL: no tested MUST failed, but {'; '.join(left)}"
