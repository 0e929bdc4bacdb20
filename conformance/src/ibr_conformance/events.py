"""The event stream of a run; reporters consume it and never reach into the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ibr_conformance.phases import Phase
from ibr_conformance.results import CheckResult

__all__ = [
    "CheckFinished",
    "Event",
    "EventHandler",
    "PhaseFinished",
    "PhaseSkipped",
    "PhaseStarted",
    "RunFinished",
    "RunInfo",
    "RunStarted",
]


@dataclass(frozen=True)
class RunInfo:
    """What a certifier needs to reproduce the run."""

    run_id: str
    profile: str
    target: str
    seed: int
    suite_version: str
    spec_version: str
    spec_hash: str
    started_at: str
    capabilities: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    """Effective configuration with secrets removed."""


@dataclass(frozen=True)
class RunStarted:
    info: RunInfo


@dataclass(frozen=True)
class PhaseStarted:
    phase: Phase


@dataclass(frozen=True)
class PhaseSkipped:
    phase: Phase
    reason: str


@dataclass(frozen=True)
class CheckFinished:
    result: CheckResult


@dataclass(frozen=True)
class PhaseFinished:
    phase: Phase
    duration_ms: float


@dataclass(frozen=True)
class RunFinished:
    info: RunInfo
    results: tuple[CheckResult, ...]
    finished_at: str
    duration_ms: float


Event = RunStarted | PhaseStarted | PhaseSkipped | CheckFinished | PhaseFinished | RunFinished


class EventHandler(Protocol):
    """A reporter: called once per event, in order."""

    def handle(self, event: Event) -> None: ...
