"""Roll check results up into per-requirement outcomes and a verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ibr_conformance.manual import not_automated
from ibr_conformance.requirements import Level, RequirementCatalogue
from ibr_conformance.results import CheckResult, Outcome

__all__ = ["RequirementOutcome", "counts", "requirement_outcomes", "verdict"]

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
