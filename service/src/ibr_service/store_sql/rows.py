"""Conversions between core records and table rows, and the shared merge decision.

`decide` is the one place that says whether an update is created, updated or unchanged; both the
executemany path and the COPY path write the rows `BatchRows.build` produces from it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ibr_service.core.records import (
    ApplyOutcome,
    AuditEntry,
    BenefitRecord,
    ClientRecord,
    EnrolmentRecord,
    EnrolmentUpdate,
    IdentifierRecord,
    OutboxJob,
    StatusChange,
    SubjectRecord,
    SubscriptionRecord,
    TransactionRecord,
)

Row = dict[str, Any]


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


# --- the merge decision -------------------------------------------------------------------


def decide(
    updates: Sequence[EnrolmentUpdate], existing: Mapping[str, tuple[str, str]]
) -> tuple[list[ApplyOutcome], list[EnrolmentUpdate]]:
    """Outcome of every update, folded in batch order; the updates that write.

    Each item is compared with the state the previous item of the same enrolment left (the
    stored (hash, status) for the first). One exception makes re-sends idempotent: when the
    batch's last item for an enrolment equals what is stored, the batch ends where the store
    already is, so every item of that enrolment is `unchanged` and nothing is written (a batch
    holding two registrations of one person in one programme is otherwise never a no-op).
    """
    last_hash = {u.enrolment.enrolment_key: u.enrolment.content_hash for u in updates}
    state = dict(existing)
    outcomes: list[ApplyOutcome] = []
    changed: list[EnrolmentUpdate] = []
    for u in updates:
        key, new_status = u.enrolment.enrolment_key, u.enrolment.enrolment_status
        stored = existing.get(key)
        if stored is not None and stored[0] == last_hash[key]:
            outcomes.append(ApplyOutcome(key, "unchanged", stored[1], stored[1]))
            continue
        before = state.get(key)
        if before is None:
            outcomes.append(ApplyOutcome(key, "created", None, new_status))
        elif before[0] == u.enrolment.content_hash:
            outcomes.append(ApplyOutcome(key, "unchanged", before[1], new_status))
            continue
        else:
            outcomes.append(ApplyOutcome(key, "updated", before[1], new_status))
        state[key] = (u.enrolment.content_hash, new_status)
        changed.append(u)
    return outcomes, changed


@dataclass
class BatchRows:
    """The rows a batch writes, per table.

    Keyed tables hold one row per key, the batch's last (the state after the fold); the status
    history holds one row per status change, in batch order.
    """

    subjects: list[Row] = field(default_factory=list)
    identifiers: list[Row] = field(default_factory=list)
    memberships: list[Row] = field(default_factory=list)
    programmes: list[Row] = field(default_factory=list)
    enrolments: list[Row] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    benefits: list[Row] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        changed: Sequence[EnrolmentUpdate],
        outcomes: Sequence[ApplyOutcome],
        subject_hashes: Mapping[str, str],
    ) -> BatchRows:
        """Rows for `changed` (the writing updates of `decide`, in order, with their outcomes)."""
        writing = [o for o in outcomes if o.result != "unchanged"]
        final_subjects: dict[str, tuple[SubjectRecord, datetime]] = {}
        identifier_rows: dict[tuple[str, str, str], Row] = {}
        membership_rows: dict[tuple[str, str], Row] = {}
        programme_rows: dict[str, Row] = {}
        enrolment_rows: dict[str, Row] = {}
        history_rows: list[Row] = []
        benefit_rows: dict[tuple[str, str], Row] = {}
        for u, outcome in zip(changed, writing, strict=True):
            now = utc(u.enrolment.updated_at)
            for s in (u.subject, *u.members):
                final_subjects[s.subject_key] = (s, now)
                for i in s.identifiers:
                    identifier_rows[(s.subject_key, i.identifier_type, i.identifier_value)] = {
                        "subject_key": s.subject_key,
                        "identifier_type": i.identifier_type,
                        "identifier_value": i.identifier_value,
                    }
            for member_key in u.subject.member_keys:
                membership_rows[(u.subject.subject_key, member_key)] = {
                    "subject_key": u.subject.subject_key,
                    "member_key": member_key,
                }
            p = u.programme
            programme_rows[p.programme_identifier] = {
                "programme_identifier": p.programme_identifier,
                "programme_name": p.programme_name,
                "document": p.document,
                "updated_at": now,
            }
            e = u.enrolment
            enrolment_rows[e.enrolment_key] = enrolment_row(e)
            if outcome.previous_status != outcome.new_status:
                history_rows.append(history_row(e, now))
            for b in u.benefits:
                benefit_rows[(b.enrolment_key, b.benefit_key)] = benefit_row(b)
        # A subject is written when its state after the batch differs from the stored one
        # (comparing each item with the store would let an earlier item's document win).
        subject_rows = [
            subject_row(s, now)
            for s, now in final_subjects.values()
            if subject_hashes.get(s.subject_key) != s.content_hash
        ]
        return cls(
            subject_rows,
            list(identifier_rows.values()),
            list(membership_rows.values()),
            list(programme_rows.values()),
            list(enrolment_rows.values()),
            history_rows,
            list(benefit_rows.values()),
        )


_change_lock = threading.Lock()
_last_change_ns = 0


def _change_id() -> str:
    """Sorts in the order changes were made: a strictly increasing clock, then a random part.

    Strictly increasing (not just `time_ns`) so that two status changes of one enrolment in
    one batch keep their order even when the clock does not tick between them.
    """
    global _last_change_ns
    with _change_lock:
        _last_change_ns = max(time.time_ns(), _last_change_ns + 1)
        return f"{_last_change_ns:020d}-{uuid.uuid4().hex[:12]}"


def history_row(e: EnrolmentRecord, now: datetime) -> Row:
    return {
        "subject_key": e.subject_key,
        "change_id": _change_id(),
        "enrolment_key": e.enrolment_key,
        "enrolment_status": e.enrolment_status,
        "status_change_date": e.status_change_date or e.enrolment_date,
        "status_reason": e.status_reason,
        "recorded_at": now,
        "sender_id": e.sender_id,
    }


# --- records -> rows ----------------------------------------------------------------------


def subject_row(s: SubjectRecord, now: datetime) -> Row:
    return {
        "subject_key": s.subject_key,
        "kind": s.kind,
        "given_name": s.given_name,
        "surname": s.surname,
        "sex": s.sex,
        "birth_date": s.birth_date,
        "death_date": s.death_date,
        "group_type": s.group_type,
        "group_size": s.group_size,
        "poverty_score": s.poverty_score,
        "document": s.document,
        "content_hash": s.content_hash,
        "created_at": now,
        "updated_at": now,
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
        "sender_id": e.sender_id,
        "content_hash": e.content_hash,
        "updated_at": utc(e.updated_at),
    }


def benefit_row(b: BenefitRecord) -> Row:
    return {
        "subject_key": b.subject_key,
        "enrolment_key": b.enrolment_key,
        "benefit_key": b.benefit_key,
        "benefit_type": b.benefit_type,
        "benefit_date": b.benefit_date,
        "amount": b.amount,
        "currency": b.currency,
        "period_start": b.period_start,
        "period_end": b.period_end,
        "document": b.document,
    }


def subscription_row(s: SubscriptionRecord) -> Row:
    return {
        "code": s.code,
        "sender_id": s.sender_id,
        "callback_uri": s.callback_uri,
        "reg_event_type": s.reg_event_type,
        "filter": s.filter,
        "notify_record_type": s.notify_record_type,
        "status": s.status,
        "created_at": utc(s.created_at),
    }


def transaction_row(t: TransactionRecord) -> Row:
    return {
        "correlation_id": t.correlation_id,
        "sender_id": t.sender_id,
        "action": t.action,
        "message_id": t.message_id,
        "transaction_id": t.transaction_id,
        "status": t.status,
        "request": t.request,
        "response": t.response,
        "error": t.error,
        "created_at": utc(t.created_at),
        "updated_at": utc(t.updated_at),
    }


def outbox_row(j: OutboxJob) -> Row:
    return {
        "job_id": j.job_id,
        "dedupe_key": j.dedupe_key,
        "correlation_id": j.correlation_id,
        "kind": j.kind,
        "sender_id": j.sender_id,
        "target_url": j.target_url,
        "payload": j.payload,
        "status": j.status,
        "attempts": j.attempts,
        "next_attempt_at": utc(j.next_attempt_at),
        "lease_until": None,
        "last_error": j.last_error,
        "created_at": utc(j.created_at),
        "delivered_at": None if j.delivered_at is None else utc(j.delivered_at),
    }


def client_row(c: ClientRecord) -> Row:
    return {
        "sender_id": c.sender_id,
        "secret_hash": c.secret_hash,
        "public_jwks": c.public_jwks,
        "scopes": sorted(c.scopes),
        "allowed_callback_hosts": sorted(c.allowed_callback_hosts),
        "allowed_programmes": None
        if c.allowed_programmes is None
        else sorted(c.allowed_programmes),
        "allow_private_callbacks": c.allow_private_callbacks,
        "active": c.active,
        "created_at": utc(c.created_at or datetime.now(UTC)),
        "callback_token_url": c.callback_token_url,
        "callback_client_id": c.callback_client_id,
        "callback_client_secret": c.callback_client_secret,
        "read_programmes": c.read_programmes
        if isinstance(c.read_programmes, str)
        else sorted(c.read_programmes),
        "read_areas": None if c.read_areas is None else sorted(c.read_areas),
        "purposes": None if c.purposes is None else sorted(c.purposes),
        "signature_policy": c.signature_policy,
        "callback_base_url": c.callback_base_url,
    }


def audit_row(a: AuditEntry) -> Row:
    return {
        "seq": a.seq,
        "at": a.at.isoformat(),
        "actor": a.actor,
        "action": a.action,
        "subject": a.subject,
        "detail": a.detail,
        "prev_hash": a.prev_hash,
        "entry_hash": a.entry_hash,
    }


# --- rows -> records ----------------------------------------------------------------------


def subject(
    m: Mapping[Any, Any], ids: tuple[IdentifierRecord, ...], members: tuple[str, ...]
) -> SubjectRecord:
    return SubjectRecord(
        subject_key=m["subject_key"],
        kind=m["kind"],
        identifiers=ids,
        document=m["document"],
        content_hash=m["content_hash"],
        given_name=m["given_name"],
        surname=m["surname"],
        sex=m["sex"],
        birth_date=m["birth_date"],
        death_date=m["death_date"],
        group_type=m["group_type"],
        group_size=m["group_size"],
        poverty_score=m["poverty_score"],
        member_keys=members,
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
    )


def subscription(m: Mapping[Any, Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        code=m["code"],
        sender_id=m["sender_id"],
        callback_uri=m["callback_uri"],
        reg_event_type=m["reg_event_type"],
        filter=m["filter"],
        notify_record_type=m["notify_record_type"],
        status=m["status"],
        created_at=aware(m["created_at"]),
    )


def transaction(m: Mapping[Any, Any], refs: tuple[str, ...]) -> TransactionRecord:
    return TransactionRecord(
        correlation_id=m["correlation_id"],
        sender_id=m["sender_id"],
        action=m["action"],
        message_id=m["message_id"],
        transaction_id=m["transaction_id"],
        status=m["status"],
        request=m["request"],
        created_at=aware(m["created_at"]),
        updated_at=aware(m["updated_at"]),
        response=m["response"],
        reference_ids=refs,
        error=m["error"],
    )


def outbox_job(m: Mapping[Any, Any]) -> OutboxJob:
    return OutboxJob(
        job_id=m["job_id"],
        dedupe_key=m["dedupe_key"],
        correlation_id=m["correlation_id"],
        kind=m["kind"],
        sender_id=m["sender_id"],
        target_url=m["target_url"],
        payload=m["payload"],
        created_at=aware(m["created_at"]),
        next_attempt_at=aware(m["next_attempt_at"]),
        attempts=m["attempts"],
        status=m["status"],
        last_error=m["last_error"],
        delivered_at=aware_or_none(m["delivered_at"]),
    )


def client(m: Mapping[Any, Any]) -> ClientRecord:
    programmes = m["allowed_programmes"]
    read = m["read_programmes"]
    return ClientRecord(
        sender_id=m["sender_id"],
        secret_hash=m["secret_hash"],
        public_jwks=m["public_jwks"],
        scopes=frozenset(m["scopes"]),
        allowed_callback_hosts=frozenset(m["allowed_callback_hosts"]),
        allowed_programmes=None if programmes is None else frozenset(programmes),
        allow_private_callbacks=bool(m["allow_private_callbacks"]),
        active=bool(m["active"]),
        created_at=aware(m["created_at"]),
        callback_token_url=m["callback_token_url"],
        callback_client_id=m["callback_client_id"],
        callback_client_secret=m["callback_client_secret"],
        read_programmes=read if isinstance(read, str) else frozenset(read),
        read_areas=None if m["read_areas"] is None else frozenset(m["read_areas"]),
        purposes=None if m["purposes"] is None else frozenset(m["purposes"]),
        signature_policy=m["signature_policy"],
        callback_base_url=m["callback_base_url"],
    )


def audit_entry(m: Mapping[Any, Any]) -> AuditEntry:
    return AuditEntry(
        seq=int(m["seq"]),
        at=datetime.fromisoformat(m["at"]),
        actor=m["actor"],
        action=m["action"],
        subject=m["subject"],
        detail=m["detail"],
        prev_hash=m["prev_hash"],
        entry_hash=m["entry_hash"],
    )
