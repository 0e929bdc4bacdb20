"""The phases of a run, in the order they execute."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Phase"]


class Phase(StrEnum):
    """A group of checks that share a way of exercising the target."""

    ENVELOPE = "envelope"
    """Valid requests from spec/examples; response envelopes, ACKs, headers, correlation ids."""
    SECURITY = "security"
    """Tokens, signatures, replay, clock, oversized and hostile input."""
    FUZZING = "fuzzing"
    """Schemathesis over spec/openapi.yaml: examples, coverage, fuzzing and stateful phases."""
    SCENARIOS = "scenarios"
    """The processes of spec/workflows/ (Arazzo), with the built-in callback receiver."""

    @property
    def description(self) -> str:
        return {
            Phase.ENVELOPE: "envelope, acknowledgement and header rules",
            Phase.SECURITY: "authentication, signing, replay and hostile input",
            Phase.FUZZING: "schema-driven fuzzing (schemathesis)",
            Phase.SCENARIOS: "process scenarios from spec/workflows",
        }[self]
