"""Building the canonical Beneficiary record (spec/schemas/data/beneficiary) from stored data."""

from __future__ import annotations

from ibr_service.core.records import (
    BenefitRecord,
    EnrolmentRecord,
    JsonDict,
    ProgrammeRecord,
    StoredBeneficiary,
)

__all__ = ["beneficiary_record", "programme_enrolment"]


def beneficiary_record(stored: StoredBeneficiary) -> JsonDict:
    """The Beneficiary a search returns: the subject as last received plus every enrolment."""
    subject = stored.subject
    record: JsonDict
    if subject.kind == "person":
        record = {"assistance_unit": "1", "member": dict(subject.document)}
    else:
        unit = subject.group_type if subject.group_type in ("2", "3") else "2"
        record = {"assistance_unit": unit, "group": dict(subject.document)}
    record["programme_identifier"] = [
        programme_enrolment(enrolment, programme, benefits)
        for enrolment, programme, benefits in stored.enrolments
    ]
    return record


def programme_enrolment(
    enrolment: EnrolmentRecord, programme: ProgrammeRecord, benefits: tuple[BenefitRecord, ...]
) -> JsonDict:
    """One ProgrammeEnrolment in canonical form; optional fields omitted, never null."""
    out: JsonDict = {"programme": dict(programme.document)}
    if enrolment.enrolment_date is not None:
        out["enrolment_date"] = enrolment.enrolment_date.isoformat()
    out["enrolment_status"] = enrolment.enrolment_status
    if enrolment.status_change_date is not None:
        out["status_change_date"] = enrolment.status_change_date.isoformat()
    if enrolment.status_reason is not None:
        out["status_reason"] = enrolment.status_reason
    if benefits:
        out["benefits"] = [dict(b.document) for b in benefits]
    if enrolment.beneficiary_programme_id is not None:
        out["beneficiary_programme_id"] = enrolment.beneficiary_programme_id
    return out
