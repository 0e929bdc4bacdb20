"""What a planted case is: its kind, its truth record (`TruthCase`) and, for the kinds that need
a second message, the follow-up records it sends after the base batches (`FollowUp`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ibr_mock_data.config import GeneratorConfig
from ibr_mock_data.enrolment import Enrolment
from ibr_mock_data.records import beneficiary_record

__all__ = [
    "ALIASED_IDENTIFIER_TYPE",
    "AREA_MOVE",
    "BENEFIT_CORRECTION",
    "BENEFIT_REVERSAL",
    "CONFLICTING_DEMOGRAPHICS",
    "CROSS_PROGRAMME_OVERLAP",
    "DEATH_REPORTED_ELSEWHERE",
    "DUPLICATE_IN_PROGRAMME",
    "FORMATTED_IDENTIFIER",
    "FUZZY_DUPLICATE",
    "KINDS",
    "SPLIT_IDENTIFIER_ORDER",
    "STALE_UPDATE",
    "FollowUp",
    "TruthCase",
]

CROSS_PROGRAMME_OVERLAP = "cross_programme_overlap"
DUPLICATE_IN_PROGRAMME = "duplicate_in_programme"
FUZZY_DUPLICATE = "fuzzy_duplicate"
SPLIT_IDENTIFIER_ORDER = "split_identifier_order"
FORMATTED_IDENTIFIER = "formatted_identifier"
ALIASED_IDENTIFIER_TYPE = "aliased_identifier_type"
CONFLICTING_DEMOGRAPHICS = "conflicting_demographics"
DEATH_REPORTED_ELSEWHERE = "death_reported_elsewhere"
AREA_MOVE = "area_move"
STALE_UPDATE = "stale_update"
BENEFIT_CORRECTION = "benefit_correction"
BENEFIT_REVERSAL = "benefit_reversal"
# Every kind, in the order a record's draw is compared with the rates (`TruthRates` fields).
KINDS = (
    CROSS_PROGRAMME_OVERLAP, DUPLICATE_IN_PROGRAMME, FUZZY_DUPLICATE, SPLIT_IDENTIFIER_ORDER,
    FORMATTED_IDENTIFIER, ALIASED_IDENTIFIER_TYPE, CONFLICTING_DEMOGRAPHICS,
    DEATH_REPORTED_ELSEWHERE, AREA_MOVE, STALE_UPDATE, BENEFIT_CORRECTION, BENEFIT_REVERSAL,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TruthCase:
    """One planted case. `records` are `beneficiary_programme_id`s; the first is the original.

    `details` holds the kind's own fields (see mock_data/README.md); they are written at the top
    level of the case's JSON line.
    """

    case_id: str
    kind: str
    programmes: tuple[str, ...]
    records: tuple[str, ...]
    person_id: str
    identifier: str
    perturbations: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case_id": self.case_id,
            "kind": self.kind,
            "programmes": list(self.programmes),
            "records": list(self.records),
            "person_id": self.person_id,
            "identifier": self.identifier,
        }
        if self.perturbations:
            out["perturbations"] = list(self.perturbations)
        out.update(self.details)
        return out


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One message sent after the base batches: `enrolment` is the record as this message sends
    it (its last status is the one reported; its deliveries are the benefits it carries)."""

    case_id: str
    step: int  # 1, 2, ... within the case, in push order
    enrolment: Enrolment
    updated_ord: int  # the message's last_updated day
    benefit_amount: str | None = None
    payment_status: str | None = None

    def as_dict(self, config: GeneratorConfig, programme: dict[str, Any]) -> dict[str, Any]:
        """`{"case_id", "step", "beneficiary"}`, as in `jsonl/updates.jsonl`."""
        record = beneficiary_record(
            self.enrolment,
            config,
            programme,
            updated_ord=self.updated_ord,
            benefit_amount=self.benefit_amount,
            payment_status=self.payment_status,
        )
        return {"case_id": self.case_id, "step": self.step, "beneficiary": record}
