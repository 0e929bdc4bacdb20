"""Who is calling: built by the host after authentication, passed to every core operation."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated SP-MIS (or operator) as the core sees it.

    `allowed_programmes` limits which programmes the caller may *write* enrolments and benefits
    for; `None` means every programme (an operator or a trusted national system). Reads are
    governed by scopes, which the host checks before calling the core.
    """

    sender_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    allowed_programmes: frozenset[str] | None = None

    def may_write_programme(self, programme_identifier: str) -> bool:
        """True when this caller may publish enrolments for `programme_identifier`."""
        return self.allowed_programmes is None or programme_identifier in self.allowed_programmes
