"""What a check receives: the target, the spec, the receiver, and helpers to report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

from ibr_conformance.callbacks import CallbackReceiver
from ibr_conformance.config import RunConfig
from ibr_conformance.mock_ibr import MockIbr
from ibr_conformance.registry import CheckSkipped, CheckSpec
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.results import Exchange, Failure
from ibr_conformance.target import Target

__all__ = ["CheckContext"]


@dataclass
class CheckContext:
    """One check's view of the run."""

    config: RunConfig
    target: Target
    catalogue: RequirementCatalogue
    check: CheckSpec
    receiver: CallbackReceiver | None = None
    mock_ibr: MockIbr | None = None
    """sp-mis profile: the mock IBR the SP-MIS under test talks to."""
    exchanges: list[Exchange] = field(default_factory=list)

    def claims(self, capability: str) -> bool:
        return capability in self.config.capabilities

    def skip(self, reason: str) -> NoReturn:
        raise CheckSkipped(reason)

    def failure(
        self,
        title: str,
        message: str,
        *,
        evidence: Iterable[Exchange] = (),
        requirements: Iterable[str] | None = None,
    ) -> Failure:
        """A failure of this check; `requirements` narrows the ids (default: all of the check's)."""
        ids = tuple(requirements) if requirements is not None else self.check.requirements
        unknown = set(ids) - set(self.check.requirements)
        if unknown:
            # A check may only blame what it declared; otherwise the coverage gate lies.
            raise ValueError(f"check {self.check.name} did not declare {sorted(unknown)}")
        return Failure(title=title, message=message, requirement_ids=ids, evidence=tuple(evidence))

    def require_receiver(self) -> CallbackReceiver:
        if self.receiver is None:
            self.skip("no callback receiver in this run")
        return self.receiver

    def require_mock_ibr(self) -> MockIbr:
        if self.mock_ibr is None:
            self.skip("no mock IBR in this run (sp-mis profile only)")
        return self.mock_ibr
