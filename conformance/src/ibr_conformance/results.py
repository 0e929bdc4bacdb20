"""Results as values: one `CheckResult` per check, holding `Failure`s with their evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ibr_conformance.phases import Phase
from ibr_conformance.redaction import redact_body, redact_headers
from ibr_conformance.requirements import Level

__all__ = ["CheckResult", "Exchange", "Failure", "Outcome"]


class Outcome(StrEnum):
    """What a check concluded."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    """A MUST requirement is broken."""
    WARN = "warn"
    """Only SHOULD / MAY requirements are broken."""
    SKIP = "skip"
    """Not applicable: a capability the system does not claim, or a phase not selected."""
    ERROR = "error"
    """The harness could not decide (target unreachable, bug in the suite)."""


_BODY_LIMIT = 20_000


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, secrets redacted, as a certifier reads it."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: Any
    status: int | None
    response_headers: Mapping[str, str]
    response_body: Any
    elapsed_ms: float = 0.0
    note: str = ""

    @classmethod
    def build(
        cls,
        *,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_body: Any,
        status: int | None,
        response_headers: Mapping[str, str],
        response_body: Any,
        elapsed_ms: float = 0.0,
        note: str = "",
    ) -> Exchange:
        return cls(
            method=method,
            url=url,
            request_headers=redact_headers(request_headers),
            request_body=_trim(redact_body(request_body)),
            status=status,
            response_headers=redact_headers(response_headers),
            response_body=_trim(redact_body(response_body)),
            elapsed_ms=round(elapsed_ms, 1),
            note=note,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _trim(body: Any) -> Any:
    # Oversized-body probes would otherwise copy megabytes into every report.
    if isinstance(body, (str, bytes)) and len(body) > _BODY_LIMIT:
        return f"{body[:200]!r}... ({len(body)} bytes, trimmed)"
    return body


@dataclass(frozen=True)
class Failure:
    """One way the system under test broke a requirement."""

    title: str
    message: str
    requirement_ids: tuple[str, ...]
    evidence: tuple[Exchange, ...] = ()

    def identity(self) -> tuple[str, str, tuple[str, ...]]:
        """Deduplication key: the same problem found twice is reported once."""
        return (self.title, self.message, self.requirement_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "message": self.message,
            "requirement_ids": list(self.requirement_ids),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class CheckResult:
    """Everything a reporter needs about one check."""

    check: str
    title: str
    phase: Phase
    requirement_ids: tuple[str, ...]
    levels: Mapping[str, Level]
    outcome: Outcome
    failures: list[Failure] = field(default_factory=list)
    reason: str = ""
    """Why it was skipped or errored."""
    duration_ms: float = 0.0
    evidence: list[Exchange] = field(default_factory=list)
    """Exchanges of a passing check (kept for the evidence bundle)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "title": self.title,
            "phase": self.phase.value,
            "requirement_ids": list(self.requirement_ids),
            "levels": {k: v.value for k, v in self.levels.items()},
            "outcome": self.outcome.value,
            "reason": self.reason,
            "duration_ms": round(self.duration_ms, 1),
            "failures": [f.to_dict() for f in self.failures],
        }
