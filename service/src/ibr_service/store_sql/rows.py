"""Conversions between the registry records and table rows, both ways (the processes' are in
`process_rows.py`), and the instant helpers both use.

The core decides every registry change (`RegistryWrite`); `registry_rows` turns one into the rows
each table receives. The executemany path (`registry.py`) and the COPY path (`bulk.py`) write
the same rows, so they store the same result.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ibr_service.core.records import (
    AREA_LEVELS,
    AreaMove,
    AreaRecord,
    BenefitChange,
    BenefitRecord,
    EnrolmentRecord,
    IdentifierRecord,
    IdentityCase,
    ProgrammeRecord,
    RegistryWrite,
    SourceRecord,
    StatusChange,
    SubjectRecord,
)

Row = dict[str, Any]
LEVEL_COLUMNS = tuple(f"area_level_{n}" for n in range(1, AREA_LEVELS + 1))


def utc(moment: datetime) -> datetime:
    """Zone-aware UTC (SQLite keeps no zone: every stored instant is UTC)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; use zone-aware UTC")
    return moment.astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """A stored instant back as zone-aware UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


_change_lock = threading.Lock()
_last_change_ns = 0
_PROCESS_TAG = uuid.uuid4().hex[:12]
"""Drawn once per process: ids of two processes never collide, and no id costs a uuid4
(a batch writes one history row per change; uuid4 per row was a tenth of ingest)."""


def _change_id() -> str:
    """Sorts in the order changes were made: a strictly increasing clock, then the process tag.

    Strictly increasing (not just `time_ns`) so that two changes of one enrolment in one batch
    keep their order even when the clock does not tick between them, and unique per process.
    """
    global _last_change_ns
    with _change_lock:
        _last_change_ns = max(time.time_ns(), _last_change_ns + 1)
        return f"{_last_change_ns:020d}-{_PROCESS_TAG}"


# --- a RegistryWrite -> rows per table ------------------------------------------------------


@dataclass
class RegistryRows:
    """The rows one `RegistryWrite` gives each table (attributes named after the tables).

    Keyed tables hold one row per key (the write's last for that key, so that one statement
    never touches a row twice); histories and cases hold every row, in the order received.
    """

    subjects: list[Row] = field(default_factory=list)
    source_records: list[Row] = field(default_factory=list)
    identifiers: list[Row] = field(default_factory=list)
    memberships: list[Row] = field(default_factory=list)
    programmes: list[Row] = field(default_factory=list)
    enrolments: list[Row] = field(default_factory=list)
    enrolment_status_history: list[Row] = field(default_factory=list)
    benefits: list[Row] = field(default_factory=list)
    benefit_history: list[Row] = field(default_factory=list)
    subject_area_history: list[Row] = field(default_factory=list)
    identity_cases: list[Row] = field(default_factory=list)

    def by_table(self) -> Iterator[tuple[str, list[Row]]]:
        """(table name, rows) in an order that writes parents before what refers to them."""
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def count(self) -> int:
        return sum(len(table_rows) for _, table_rows in self.by_table())


def registry_rows(write: RegistryWrite, now: datetime) -> RegistryRows:
    """The rows of `write`; `now` stamps subjects and programmes (created/updated at)."""
    subject_rows = {s.subject_key: subject_row(s, now) for s in write.subjects}
    source_rows = {(r.subject.subject_key, r.source_key): source_row(r) for r in write.sources}
    identifier_rows = {
        (key, i.identifier_type, i.identifier_value): identifier_row(key, i)
        for key, i in write.identifiers
    }
    membership_rows = {pair: membership_row(*pair) for pair in write.memberships}
    programme_rows = {p.programme_identifier: programme_row(p, now) for p in write.programmes}
    enrolment_rows = {(e.subject_key, e.enrolment_key): enrolment_row(e) for e in write.enrolments}
    benefit_rows = {
        (b.subject_key, b.enrolment_key, b.benefit_key): benefit_row(b) for b in write.benefits
    }
    case_rows = {c.case_id: identity_case_row(c) for c in write.identity_cases}
    return RegistryRows(
        subjects=list(subject_rows.values()),
        source_records=list(source_rows.values()),
        identifiers=list(identifier_rows.values()),
        memberships=list(membership_rows.values()),
        programmes=list(programme_rows.values()),
        enrolments=list(enrolment_rows.values()),
        enrolment_status_history=[history_row(h) for h in write.status_history],
        benefits=list(benefit_rows.values()),
        benefit_history=[benefit_change_row(c) for c in write.benefit_history],
        subject_area_history=[area_move_row(m) for m in write.area_moves],
        identity_cases=list(case_rows.values()),
    )


# --- records -> rows ----------------------------------------------------------------------


def _levels(levels: tuple[str | None, ...]) -> Row:
    padded = (*levels, *(None,) * AREA_LEVELS)[:AREA_LEVELS]
    return dict(zip(LEVEL_COLUMNS, padded, strict=True))


def _person_row(s: SubjectRecord) -> Row:
    """The columns a subject row and a source record share."""
    return {
        "kind": s.kind,
        "given_name": s.given_name,
        "surname": s.surname,
        "sex": s.sex,
        "birth_date": s.birth_date,
        "death_date": s.death_date,
        "group_type": s.group_type,
        "group_size": s.group_size,
        "poverty_score": s.poverty_score,
        "area_code": s.area_code,
        "document": s.document,
        "content_hash": s.content_hash,
    }


def subject_row(s: SubjectRecord, now: datetime) -> Row:
    return {
        "subject_key": s.subject_key,
        **_person_row(s),
        **_levels(s.area_levels),
        "last_updated": s.last_updated,
        "death_reported_by": s.death_reported_by,
        "created_at": utc(now),
        "updated_at": utc(now),
    }


def source_row(r: SourceRecord) -> Row:
    return {
        "subject_key": r.subject.subject_key,
        "source_key": r.source_key,
        "sender_id": r.sender_id,
        "programme_identifier": r.programme_identifier,
        "beneficiary_programme_id": r.beneficiary_programme_id,
        **_person_row(r.subject),
        **_levels(r.subject.area_levels),
        "event_date": r.event_date,
        "received_at": utc(r.received_at),
        "identifier_checks": dict(r.subject.identifier_checks) or None,
    }


def identifier_row(subject_key: str, i: IdentifierRecord) -> Row:
    return {
        "subject_key": subject_key,
        "identifier_type": i.identifier_type,
        "identifier_value": i.identifier_value,
    }


def membership_row(subject_key: str, member_key: str) -> Row:
    return {"subject_key": subject_key, "member_key": member_key}


def programme_row(p: ProgrammeRecord, now: datetime) -> Row:
    return {
        "programme_identifier": p.programme_identifier,
        "programme_name": p.programme_name,
        "document": p.document,
        "updated_at": utc(now),
    }


def enrolment_row(e: EnrolmentRecord) -> Row:
    return {
        "subject_key": e.subject_key,
        "enrolment_key": e.enrolment_key,
        "programme_identifier": e.programme_identifier,
        "enrolment_status": e.enrolment_status,
        "enrolment_date": e.enrolment_date,
        "status_change_date": e.status_change_date,
        "status_reason": e.status_reason,
        "beneficiary_programme_id": e.beneficiary_programme_id,
        "event_date": e.event_date,
        "source_key": e.source_key,
        "sender_id": e.sender_id,
        "content_hash": e.content_hash,
        "updated_at": utc(e.updated_at),
    }


def history_row(h: StatusChange) -> Row:
    return {
        "subject_key": h.subject_key,
        "change_id": _change_id(),
        "enrolment_key": h.enrolment_key,
        "programme_identifier": h.programme_identifier,
        "enrolment_status": h.enrolment_status,
        "status_change_date": h.status_change_date,
        "status_reason": h.status_reason,
        "enrolment_date": h.enrolment_date,
        "event_date": h.event_date,
        "applied": h.applied,
        "recorded_at": utc(h.recorded_at),
        "sender_id": h.sender_id,
    }


def benefit_row(b: BenefitRecord) -> Row:
    return {
        "subject_key": b.subject_key,
        "enrolment_key": b.enrolment_key,
        "benefit_key": b.benefit_key,
        "programme_identifier": b.programme_identifier,
        "benefit_type": b.benefit_type,
        "benefit_date": b.benefit_date,
        "amount": b.amount,
        "currency": b.currency,
        "period_start": b.period_start,
        "period_end": b.period_end,
        "payment_status": b.payment_status,
        "disbursement_date": b.disbursement_date,
        "credited_amount": b.credited_amount,
        "document": b.document,
    }


def benefit_change_row(c: BenefitChange) -> Row:
    return {
        "subject_key": c.subject_key,
        "change_id": _change_id(),
        "enrolment_key": c.enrolment_key,
        "benefit_key": c.benefit_key,
        "change": c.change,
        "amount": c.amount,
        "previous_amount": c.previous_amount,
        "currency": c.currency,
        "payment_status": c.payment_status,
        "recorded_at": utc(c.recorded_at),
        "sender_id": c.sender_id,
    }


def area_move_row(m: AreaMove) -> Row:
    return {
        "subject_key": m.subject_key,
        "change_id": _change_id(),
        "area_code": m.area_code,
        **_levels(m.area_levels),
        "moved_on": m.moved_on,
        "recorded_at": utc(m.recorded_at),
        "source_key": m.source_key,
    }


def identity_case_row(c: IdentityCase) -> Row:
    return {
        "case_id": c.case_id,
        "kind": c.kind,
        "status": c.status,
        "subject_keys": list(c.subject_keys),
        "identifier_type": c.identifier_type,
        "identifier_value": c.identifier_value,
        "evidence": c.evidence,
        "sender_id": c.sender_id,
        "programme_identifier": c.programme_identifier,
        "opened_at": utc(c.opened_at),
        "decided_at": None if c.decided_at is None else utc(c.decided_at),
        "decided_by": c.decided_by,
        "note": c.note,
    }


def area_row(a: AreaRecord) -> Row:
    return {
        "area_code": a.area_code,
        "level": a.level,
        "name": a.name,
        "parent_code": a.parent_code,
        "country_code": a.country_code,
    }


# --- rows -> records ----------------------------------------------------------------------


def _person(
    m: Mapping[Any, Any], ids: tuple[IdentifierRecord, ...], members: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "subject_key": m["subject_key"],
        "kind": m["kind"],
        "identifiers": ids,
        "document": m["document"],
        "content_hash": m["content_hash"],
        "given_name": m["given_name"],
        "surname": m["surname"],
        "sex": m["sex"],
        "birth_date": m["birth_date"],
        "death_date": m["death_date"],
        "group_type": m["group_type"],
        "group_size": m["group_size"],
        "poverty_score": m["poverty_score"],
        "member_keys": members,
        "area_code": m["area_code"],
    }


def subject(
    m: Mapping[Any, Any], ids: tuple[IdentifierRecord, ...], members: tuple[str, ...]
) -> SubjectRecord:
    return SubjectRecord(
        **_person(m, ids, members),
        area_levels=tuple(m[c] for c in LEVEL_COLUMNS),
        last_updated=m["last_updated"],
        death_reported_by=m["death_reported_by"],
    )


def source(m: Mapping[Any, Any]) -> SourceRecord:
    """A source record; its subject holds what the source sent (identifiers and members are
    links of the consolidated subject, kept in `identifiers`/`memberships`, and in `document`)."""
    return SourceRecord(
        source_key=m["source_key"],
        subject=SubjectRecord(
            **_person(m, (), ()),
            area_levels=tuple(m[c] for c in LEVEL_COLUMNS),
            identifier_checks=tuple(sorted((m["identifier_checks"] or {}).items())),
        ),
        sender_id=m["sender_id"],
        programme_identifier=m["programme_identifier"],
        beneficiary_programme_id=m["beneficiary_programme_id"],
        event_date=m["event_date"],
        received_at=aware(m["received_at"]),
    )


def enrolment(m: Mapping[Any, Any]) -> EnrolmentRecord:
    return EnrolmentRecord(
        enrolment_key=m["enrolment_key"],
        subject_key=m["subject_key"],
        programme_identifier=m["programme_identifier"],
        enrolment_status=m["enrolment_status"],
        enrolment_date=m["enrolment_date"],
        status_change_date=m["status_change_date"],
        status_reason=m["status_reason"],
        beneficiary_programme_id=m["beneficiary_programme_id"],
        sender_id=m["sender_id"],
        content_hash=m["content_hash"],
        updated_at=aware(m["updated_at"]),
        event_date=m["event_date"],
        source_key=m["source_key"],
    )


def benefit(m: Mapping[Any, Any]) -> BenefitRecord:
    return BenefitRecord(
        enrolment_key=m["enrolment_key"],
        subject_key=m["subject_key"],
        benefit_key=m["benefit_key"],
        benefit_type=m["benefit_type"],
        benefit_date=m["benefit_date"],
        amount=m["amount"],
        currency=m["currency"],
        period_start=m["period_start"],
        period_end=m["period_end"],
        document=m["document"],
        programme_identifier=m["programme_identifier"],
        payment_status=m["payment_status"],
        disbursement_date=m["disbursement_date"],
        credited_amount=m["credited_amount"],
    )


def status_change(m: Mapping[Any, Any]) -> StatusChange:
    return StatusChange(
        enrolment_key=m["enrolment_key"],
        subject_key=m["subject_key"],
        enrolment_status=m["enrolment_status"],
        status_change_date=m["status_change_date"],
        status_reason=m["status_reason"],
        recorded_at=aware(m["recorded_at"]),
        sender_id=m["sender_id"],
        enrolment_date=m["enrolment_date"],
        event_date=m["event_date"],
        applied=bool(m["applied"]),
        programme_identifier=m["programme_identifier"],
    )


def benefit_change(m: Mapping[Any, Any]) -> BenefitChange:
    return BenefitChange(
        subject_key=m["subject_key"],
        enrolment_key=m["enrolment_key"],
        benefit_key=m["benefit_key"],
        change=m["change"],
        amount=m["amount"],
        previous_amount=m["previous_amount"],
        currency=m["currency"],
        payment_status=m["payment_status"],
        recorded_at=aware(m["recorded_at"]),
        sender_id=m["sender_id"],
    )


def area_move(m: Mapping[Any, Any]) -> AreaMove:
    return AreaMove(
        subject_key=m["subject_key"],
        area_code=m["area_code"],
        area_levels=tuple(m[c] for c in LEVEL_COLUMNS),
        moved_on=m["moved_on"],
        recorded_at=aware(m["recorded_at"]),
        source_key=m["source_key"],
    )


def identity_case(m: Mapping[Any, Any]) -> IdentityCase:
    return IdentityCase(
        case_id=m["case_id"],
        kind=m["kind"],
        subject_keys=tuple(m["subject_keys"]),
        identifier_type=m["identifier_type"],
        identifier_value=m["identifier_value"],
        evidence=m["evidence"],
        sender_id=m["sender_id"],
        programme_identifier=m["programme_identifier"],
        opened_at=aware(m["opened_at"]),
        status=m["status"],
        decided_at=aware_or_none(m["decided_at"]),
        decided_by=m["decided_by"],
        note=m["note"],
    )


def area(m: Mapping[Any, Any]) -> AreaRecord:
    return AreaRecord(
        area_code=m["area_code"],
        level=m["level"],
        name=m["name"],
        parent_code=m["parent_code"],
        country_code=m["country_code"],
    )
