"""Requirements the suite cannot decide over HTTP, each with the reason and what to check instead.

The coverage gate accepts a MUST without a check only when it is listed here; the reports show
these requirements as `manual` (an assessor verifies them from configuration, logs or code) or
`not-testable` (no bounded black-box test can decide them), never as `pass`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["NOT_AUTOMATED", "Classification", "ManualRequirement", "not_automated"]


class Classification(StrEnum):
    MANUAL = "manual"
    """An assessor verifies it from the deployment (configuration, logs, certificates)."""
    NOT_TESTABLE = "not-testable"
    """No bounded black-box test can decide it."""


@dataclass(frozen=True)
class ManualRequirement:
    id: str
    classification: Classification
    reason: str


_M, _N = Classification.MANUAL, Classification.NOT_TESTABLE

NOT_AUTOMATED: dict[str, ManualRequirement] = {
    r.id: r
    for r in (
        ManualRequirement(
            "IBR-SEC-001",
            _M,
            "TLS version and refusal of plain HTTP are properties of the deployment's front end; "
            "the suite runs on loopback over plain HTTP in self-validation. Assess with an SSL "
            "scanner (e.g. testssl.sh) against the production URL.",
        ),
        ManualRequirement(
            "IBR-SEC-006",
            _M,
            "Whether a development bypass exists, is off by default and logs CRITICAL is a "
            "property of the installation; inspect the configuration and the start-up log.",
        ),
        ManualRequirement(
            "IBR-SEC-007",
            _M,
            "Refusal logging happens inside the system under test; inspect its logs after a run "
            "of the security phase (every refusal of the run must appear, without message bodies).",
        ),
        ManualRequirement(
            "IBR-CB-003",
            _N,
            "Retrying for at least 24 h with exponential backoff cannot be observed in a bounded "
            "run; review the delivery schedule (outbox settings) and its delivery log.",
        ),
        ManualRequirement(
            "IBR-SIG-009",
            _M,
            "Key retirement and the publication period of retired keys need the operator's key "
            "rotation record; a black box shows only the keys published today.",
        ),
        ManualRequirement(
            "IBR-HDR-008",
            _M,
            "sp-mis profile: the trigger API drives only the SP-MIS's async requests (search, "
            "subscribe, unsubscribe), which must carry sender_uri; that its sync requests "
            "(sync/search, enrolled, enrollments/updates) omit it shows only in what it sends "
            "to a real IBR. Inspect its request log or code. (The ibr profile checks the "
            "receiver half: sync_operation_ignores_sender_uri.)",
        ),
        ManualRequirement(
            "IBR-UPDATES-006",
            _M,
            "sp-mis profile: the trigger API cannot make the SP-MIS report enrolment updates, "
            "so the header of its enrollments/updates requests (request header, action notify) "
            "is assessed from its request log or code.",
        ),
    )
}


def not_automated(rid: str) -> ManualRequirement | None:
    return NOT_AUTOMATED.get(rid)
