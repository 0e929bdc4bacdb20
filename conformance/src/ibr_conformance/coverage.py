"""The coverage gate: every MUST requirement binding a profile has at least one check."""

from __future__ import annotations

from ibr_conformance.manual import NOT_AUTOMATED
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY, CheckRegistry
from ibr_conformance.requirements import Level, Requirement, RequirementCatalogue

__all__ = ["uncovered_musts"]


def uncovered_musts(
    catalogue: RequirementCatalogue, profile: Profile, registry: CheckRegistry = REGISTRY
) -> list[Requirement]:
    """MUST requirements binding `profile` that no check of `profile` names and that are not
    classified manual / not-testable in `ibr_conformance.manual`."""
    import ibr_conformance.checks  # noqa: F401 - registers the built-in checks

    covered = registry.covered_requirements(profile)
    return [
        r
        for r in catalogue.binding(profile.value, Level.MUST)
        if r.id not in covered and r.id not in NOT_AUTOMATED
    ]
