"""Plain records that cross the `Store` boundary, in both directions.

They hold backend-neutral Python values (str, int, date, datetime, dict) so that any store (SQL,
Odoo ORM, a test fake) can persist them without importing the core's logic. JSON-able `document`
fields hold the canonical wire form (spec/CONVENTIONS.md) of a Member, Group, Programme or Benefit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "AREA_LEVELS",
    "ApplyOutcome",
    "AreaMove",
    "AreaRecord",
    "AuditEntry",
    "BenefitChange",
    "BenefitRecord",
    "ClientRecord",
    "EnrolmentRecord",
    "EnrolmentUpdate",
    "IdentifierRecord",
    "IdentityCase",
    "JsonDict",
    "OutboxJob",
    "ProgrammeRecord",
    "ReadProgrammes",
    "RegistryWrite",
    "SigningKeyRecord",
    "SourceRecord",
    "StatusChange",
    "StoredBeneficiary",
    "SubjectKind",
    "SubjectRecord",
    "SubjectState",
    "SubscriptionRecord",
    "TransactionRecord",
]

JsonDict = dict[str, Any]
SubjectKind = Literal["person", "group"]
"""A person (DCI Member, assistance unit "1") or a group/household (assistance units "2", "3")."""
AREA_LEVELS = 4
"""Levels of the administrative hierarchy kept as columns: 1 region, 2 district, 3, 4."""
ReadProgrammes = frozenset[str] | Literal["own", "all"]
"""A client's programme read scope: the programmes it writes, a list, or every programme."""


# --- registry data --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentifierRecord:
    """One typed identifier of a subject (several per subject)."""

    identifier_type: str
    identifier_value: str


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """A person or a group, keyed by `subject_key`.

    `subject_key` is derived by the core from the subject's national ID when it has one (else
    its first identifier), so that it can become the distribution key of a sharded database; see
    docs/storage-and-distribution.md. The flat fields are the searchable attributes; `document`
    is the canonical Member or Group as last received.
    """

    subject_key: str
    kind: SubjectKind
    identifiers: tuple[IdentifierRecord, ...]
    document: JsonDict
    content_hash: str
    given_name: str | None = None
    surname: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    death_date: date | None = None
    group_type: str | None = None
    group_size: int | None = None
    poverty_score: float | None = None
    member_keys: tuple[str, ...] = ()
    """Subject keys of the persons in a group's `member_list` (memberships)."""
    area_code: str | None = None
    """The most specific administrative area known (a code of `areas`, or as sent)."""
    area_levels: tuple[str | None, ...] = (None,) * AREA_LEVELS
    """The area's code at each level (1 region, 2 district, ...), resolved through `areas`."""
    last_updated: date | None = None
    """The latest event date any source reported for this subject."""
    death_reported_by: str | None = None
    """`source_key` of the source whose report makes the subject deceased (survivorship)."""
    identifier_checks: tuple[tuple[str, bool], ...] = ()
    """For the facts of one source: (type, passed) per identifier type with a check scheme it
    sent (`identity.Normalised.checks`); what data quality counts. Empty on a consolidated
    subject."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What one source (sender x programme x programme record) said about one subject.

    `subject` holds the facts as this source sent them, keyed by the subject it is linked to;
    the consolidated `subjects` row is derived from all of a subject's source records
    (`ibr_service.core.survivorship`). A source only ever replaces its own record.
    """

    source_key: str
    subject: SubjectRecord
    sender_id: str
    programme_identifier: str
    beneficiary_programme_id: str | None
    event_date: date | None
    """The date the facts are as of: the record's latest status, enrolment or update date."""
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SubjectState:
    """A stored subject with every source record linked to it (input to survivorship)."""

    subject: SubjectRecord
    sources: tuple[SourceRecord, ...]


@dataclass(frozen=True, slots=True)
class ProgrammeRecord:
    """A social protection programme, keyed by its `programme_identifier`."""

    programme_identifier: str
    programme_name: str | None
    document: JsonDict


@dataclass(frozen=True, slots=True)
class EnrolmentRecord:
    """One subject x programme enrolment (the current state; history is in `StatusChange`)."""

    enrolment_key: str
    subject_key: str
    programme_identifier: str
    enrolment_status: str
    enrolment_date: date | None
    status_change_date: date | None
    status_reason: str | None
    beneficiary_programme_id: str | None
    sender_id: str
    content_hash: str
    """Hash of the whole update item; an equal hash on re-send means nothing changed."""
    updated_at: datetime
    event_date: date | None = None
    """`status_change_date`, else `enrolment_date`: orders updates of this enrolment."""
    source_key: str = ""


@dataclass(frozen=True, slots=True)
class BenefitRecord:
    """What was delivered under an enrolment: when, how much, for which period."""

    enrolment_key: str
    subject_key: str
    benefit_key: str
    """`benefit_id` when the sender gives one, else `~` + a hash of (programme, beneficiary
    record, period, benefit type): never of the content, so that a correction replaces."""
    benefit_type: str | None
    benefit_date: date | None
    amount: Decimal | None
    currency: str | None
    period_start: date | None
    period_end: date | None
    document: JsonDict
    programme_identifier: str = ""
    payment_status: str | None = None
    """`disbursement.payment_status` (codes/payment_status): 4 Cancelled, 5 Returned reverse it."""
    disbursement_date: date | None = None
    credited_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BenefitChange:
    """One entry of a benefit's history: created, corrected, cancelled or reversed."""

    subject_key: str
    enrolment_key: str
    benefit_key: str
    change: Literal["created", "corrected", "cancelled", "reversed"]
    amount: Decimal | None
    previous_amount: Decimal | None
    currency: str | None
    payment_status: str | None
    recorded_at: datetime
    sender_id: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of an enrolment's status history."""

    enrolment_key: str
    subject_key: str
    enrolment_status: str
    status_change_date: date | None
    status_reason: str | None
    recorded_at: datetime
    sender_id: str
    enrolment_date: date | None = None
    event_date: date | None = None
    applied: bool = True
    """False for a stale update: older than the stored state, kept here only."""
    programme_identifier: str = ""


@dataclass(frozen=True, slots=True)
class AreaRecord:
    """An administrative area (reference data, `ibr areas load`)."""

    area_code: str
    level: int
    name: str
    parent_code: str | None
    country_code: str | None = None


@dataclass(frozen=True, slots=True)
class AreaMove:
    """A subject's move to another area (history; the current area is on the subject)."""

    subject_key: str
    area_code: str | None
    area_levels: tuple[str | None, ...]
    moved_on: date | None
    recorded_at: datetime
    source_key: str


@dataclass(frozen=True, slots=True)
class IdentityCase:
    """A linkage the IBR refused to decide alone; resolved by an explicit, audited decision."""

    case_id: str
    kind: Literal["identifier_conflict", "demographic_clash"]
    subject_keys: tuple[str, ...]
    identifier_type: str | None
    identifier_value: str | None
    evidence: JsonDict
    sender_id: str
    programme_identifier: str | None
    opened_at: datetime
    status: Literal["open", "merged", "dismissed"] = "open"
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class EnrolmentUpdate:
    """One valid item of an enrolment-updates batch, ready to apply."""

    subject: SubjectRecord
    members: tuple[SubjectRecord, ...]
    programme: ProgrammeRecord
    enrolment: EnrolmentRecord
    benefits: tuple[BenefitRecord, ...]
    source: SourceRecord | None = None
    """The source record this update carries (None only in tests that build updates by hand)."""


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What applying one `EnrolmentUpdate` did."""

    enrolment_key: str
    result: Literal["created", "updated", "unchanged", "stale", "rejected"]
    previous_status: str | None
    new_status: str
    reason: str | None = None
    """For `rejected`: the spec reason code; for `stale`: why it did not apply."""
    message: str | None = None


@dataclass
class RegistryWrite:
    """Everything one batch writes, decided by the core; a store only persists it.

    Keyed collections hold the final state per key (upserts); histories and cases are appended.
    """

    subjects: list[SubjectRecord] = field(default_factory=list)
    sources: list[SourceRecord] = field(default_factory=list)
    identifiers: list[tuple[str, IdentifierRecord]] = field(default_factory=list)
    """(subject_key, identifier): added links (existing ones are kept)."""
    memberships: list[tuple[str, str]] = field(default_factory=list)
    programmes: list[ProgrammeRecord] = field(default_factory=list)
    enrolments: list[EnrolmentRecord] = field(default_factory=list)
    status_history: list[StatusChange] = field(default_factory=list)
    benefits: list[BenefitRecord] = field(default_factory=list)
    benefit_history: list[BenefitChange] = field(default_factory=list)
    area_moves: list[AreaMove] = field(default_factory=list)
    identity_cases: list[IdentityCase] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class StoredBeneficiary:
    """A subject with its enrolments and their benefits, as loaded for a search result."""

    subject: SubjectRecord
    enrolments: tuple[tuple[EnrolmentRecord, ProgrammeRecord, tuple[BenefitRecord, ...]], ...]


# --- processes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A subscriber's standing interest in enrolment or status-change events."""

    code: str
    sender_id: str
    callback_uri: str
    reg_event_type: str
    """`enrollement` or `enrollement_status_change` (DCI spelling)."""
    filter: JsonDict
    """The subscribe filter as received (filter_type + filter); parsed by the core when matching."""
    notify_record_type: str
    status: Literal["subscribe", "unsubscribe"]
    created_at: datetime


@dataclass(slots=True)
class TransactionRecord:
    """An accepted request: async ones are processed later by `IbrCore.run_pending`."""

    correlation_id: str
    sender_id: str
    action: str
    message_id: str
    transaction_id: str
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    request: JsonDict
    """The whole canonical envelope as accepted (header + message)."""
    created_at: datetime
    updated_at: datetime
    response: JsonDict | None = None
    """The callback message (or sync response message) once produced."""
    reference_ids: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxJob:
    """A callback to POST: written in the same transaction as the change that caused it."""

    job_id: str
    dedupe_key: str
    """`<correlation_id>:<kind>`; enqueueing an existing key is a no-op (at most one callback)."""
    correlation_id: str
    kind: str
    """The callback action: `on-search`, `on-subscribe`, `on-unsubscribe`, `notify`, ..."""
    sender_id: str
    """The client the callback goes to (its keys and allowed hosts apply)."""
    target_url: str
    payload: JsonDict
    """The callback envelope, unsigned; the dispatcher signs it when sending."""
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    status: Literal["pending", "delivered", "dead"] = "pending"
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A registered SP-MIS client (see ibr_service.security for how each field is enforced)."""

    sender_id: str
    secret_hash: str
    public_jwks: JsonDict = field(default_factory=lambda: {"keys": []})
    scopes: frozenset[str] = frozenset()
    allowed_callback_hosts: frozenset[str] = frozenset()
    allowed_programmes: frozenset[str] | None = None
    allow_private_callbacks: bool = False
    active: bool = True
    created_at: datetime | None = None
    callback_token_url: str | None = None
    """The SP-MIS token endpoint; when set, callbacks carry a bearer token (IBR-SEC-004)."""
    callback_client_id: str | None = None
    """Our client id at that endpoint; None = the IBR's own ``receiver_id`` setting."""
    callback_client_secret: str | None = None
    """Kept in clear, because the IBR must present it (not encrypted at rest)."""
    read_programmes: ReadProgrammes = "own"
    """Whose enrolments searches and notifications may reveal (IBR-SEARCH-006, IBR-SUB-004)."""
    read_areas: frozenset[str] | None = None
    """Areas (codes at any level) whose subjects it may read; None = no area restriction."""
    purposes: frozenset[str] | None = None
    """Purpose codes its searches may declare; None = any purpose."""
    signature_policy: Literal["required", "optional"] = "required"
    """`optional` for a peer that cannot sign yet: DCI placeholder signatures count as none."""
    callback_base_url: str | None = None
    """Registered callback base URL, used when a request has no `sender_uri` (IBR-CB-001)."""


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A signing key of the IBR itself (private JWK); retired keys stay for verification."""

    kid: str
    private_jwk: JsonDict
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One append-only audit log entry; `entry_hash` chains it to `prev_hash` (see core.audit)."""

    seq: int
    """1, 2, 3, ... without gaps; assigned by the core, stored as given."""
    at: datetime
    actor: str
    action: str
    subject: str
    detail: JsonDict
    prev_hash: str
    entry_hash: str
