"""Checks register here by decorator; the runner asks the registry what to run.

    @REGISTRY.check(phase=Phase.ENVELOPE, profile=Profile.IBR, requirements=("IBR-ACK-001",))
    def ack_has_the_spec_shape(ctx: CheckContext) -> Iterator[Failure]:
        "The ACK of an async request validates against schemas/api/ack."
        ...
        yield ctx.failure("ACK does not match schema", str(exc), evidence=[exchange])

A check yields `Failure` values (nothing = pass) and calls `ctx.skip(reason)` when the target
does not claim the capability it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ibr_conformance.errors import ConfigError
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile

if TYPE_CHECKING:
    from ibr_conformance.context import CheckContext
    from ibr_conformance.results import Failure

__all__ = ["REGISTRY", "CheckFunc", "CheckRegistry", "CheckSkipped", "CheckSpec"]

CheckFunc = Callable[["CheckContext"], Iterable["Failure"]]


class CheckSkipped(Exception):  # noqa: N818 - a control signal, not an error
    """Raised by `ctx.skip(reason)`: the check does not apply to this target."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: what it verifies, in which phase, for which profile."""

    name: str
    title: str
    phase: Phase
    profile: Profile
    requirements: tuple[str, ...]
    func: CheckFunc
    capability: str | None = None
    """Capability the target must claim for the check to run (else `skip`)."""


class CheckRegistry:
    """An ordered set of checks, unique by name."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckSpec] = {}

    def check(
        self,
        *,
        phase: Phase,
        profile: Profile,
        requirements: tuple[str, ...],
        capability: str | None = None,
        name: str | None = None,
    ) -> Callable[[CheckFunc], CheckFunc]:
        """Register the decorated function; its docstring's first line is the title."""
        if not requirements:
            raise ConfigError("a check must name at least one requirement id")

        def decorate(func: CheckFunc) -> CheckFunc:
            check_name = name or func.__name__
            if check_name in self._checks:
                raise ConfigError(f"check {check_name!r} is registered twice")
            doc = (func.__doc__ or check_name).strip().splitlines()[0]
            self._checks[check_name] = CheckSpec(
                name=check_name,
                title=doc,
                phase=phase,
                profile=profile,
                requirements=requirements,
                func=func,
                capability=capability,
            )
            return func

        return decorate

    def add(self, spec: CheckSpec) -> None:
        """Register an already-built spec (used for generated checks, e.g. scenarios)."""
        if spec.name in self._checks:
            raise ConfigError(f"check {spec.name!r} is registered twice")
        self._checks[spec.name] = spec

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def select(
        self,
        *,
        profile: Profile,
        phases: Iterable[Phase] | None = None,
        names: Iterable[str] | None = None,
    ) -> list[CheckSpec]:
        """Checks of `profile`, optionally limited to `phases` and `names` (unknown names raise)."""
        wanted = set(names or ())
        unknown = wanted - set(self._checks)
        if unknown:
            raise ConfigError(
                f"unknown check(s) {sorted(unknown)}; valid names: {sorted(self._checks)}"
            )
        phase_set = set(phases) if phases is not None else set(Phase)
        return [
            c
            for c in self._checks.values()
            if c.profile is profile and c.phase in phase_set and (not wanted or c.name in wanted)
        ]

    def covered_requirements(self, profile: Profile | None = None) -> dict[str, list[str]]:
        """Requirement id -> names of the checks that verify it."""
        out: dict[str, list[str]] = {}
        for c in self._checks.values():
            if profile is None or c.profile is profile:
                for rid in c.requirements:
                    out.setdefault(rid, []).append(c.name)
        return out


REGISTRY = CheckRegistry()
"""The suite's checks; modules under `ibr_conformance.checks` fill it on import."""
