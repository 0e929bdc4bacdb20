"""The storage interface the core is written against.

Narrow on purpose: an Odoo ORM store (odoo_addons/ibr) implements the same two protocols, and the
store contract tests (`service/tests/store/contract.py`) are plain functions taking a `Store`, so
they run against any implementation.

    with store.transaction() as tx:      # one unit of work: commit on exit, rollback on error
        tx.write_registry(write)         # what the core decided (ibr_service.core.registry)
        tx.enqueue_outbox(job)           # same transaction as the write it announces

Rules every implementation keeps:
- Nothing is visible to other transactions before `transaction()` exits normally; an exception
  inside the block rolls everything back and propagates.
- Queries take the AST of `ibr_service.core.query`, never query text; values are bound
  parameters (or the ORM's equivalent).
- Timestamps are timezone-aware UTC `datetime`s in and out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

from ibr_service.core.query import Expr, SortKey
from ibr_service.core.records import (
    AreaMove,
    AreaRecord,
    AuditEntry,
    BenefitChange,
    BenefitRecord,
    ClientRecord,
    EnrolmentRecord,
    IdentifierRecord,
    IdentityCase,
    OutboxJob,
    RegistryWrite,
    SigningKeyRecord,
    StatusChange,
    StoredBeneficiary,
    SubjectKind,
    SubjectState,
    SubscriptionRecord,
    TransactionRecord,
)

__all__ = ["Store", "StoreTransaction", "TxnStatus"]

TxnStatus = Literal["rcvd", "pdng", "succ", "rjct"]


@runtime_checkable
class StoreTransaction(Protocol):
    """The operations available inside one unit of work."""

    # --- registry data ------------------------------------------------------------------
    # The core decides every registry change (docs/registry-model.md); a store reads the state
    # the decision needs, set-wise (one query per call, never per row), and writes `RegistryWrite`.

    def subjects_by_identifiers(
        self, identifiers: Sequence[IdentifierRecord]
    ) -> dict[IdentifierRecord, tuple[str, ...]]:
        """The subject keys each (normalised) identifier is linked to; absent ones are left out."""
        ...

    def subjects_by_sources(self, source_keys: Sequence[str]) -> dict[str, str]:
        """The subject each stored source record is linked to, by `source_key`."""
        ...

    def load_subject_states(self, subject_keys: Sequence[str]) -> dict[str, SubjectState]:
        """Stored subjects (consolidated row, identifiers, members) with their source records."""
        ...

    def load_enrolments(self, enrolment_keys: Sequence[str]) -> dict[str, EnrolmentRecord]:
        """The current state of each stored enrolment among `enrolment_keys`."""
        ...

    def load_benefits(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], BenefitRecord]:
        """Stored benefits by (enrolment_key, benefit_key)."""
        ...

    def write_registry(self, write: RegistryWrite) -> None:
        """Persist one batch's decided changes: upsert keyed rows, append histories and cases.

        Identifier and membership links are added, never removed. Implementations may take a
        set-wise path (COPY + merge) for large writes; the stored result must be the same.
        """
        ...

    def status_history(self, enrolment_key: str) -> list[StatusChange]:
        """The status changes of one enrolment (applied and stale), in the order received."""
        ...

    def benefit_history(self, enrolment_key: str) -> list[BenefitChange]:
        """The changes of one enrolment's benefits, in the order received."""
        ...

    def area_history(self, subject_key: str) -> list[AreaMove]:
        """A subject's moves between areas, in the order received."""
        ...

    def search_subjects(
        self,
        query: Expr,
        *,
        kind: SubjectKind | None,
        sort: Sequence[SortKey],
        offset: int,
        limit: int,
        as_of: date | None = None,
    ) -> tuple[list[str], int]:
        """Subject keys matching `query` (one page, sorted, ties by subject key) and the total.

        Enrolment-level comparisons joined by `And` must hold for the *same* enrolment. With
        `as_of`, enrolment conditions are evaluated on each enrolment's state on that date (its
        last applied history entry with an event date on or before it).
        """
        ...

    def subject_exists(self, query: Expr, *, kind: SubjectKind | None) -> bool:
        """True when at least one subject matches `query` (the enrolled check)."""
        ...

    def load_beneficiaries(self, subject_keys: Sequence[str]) -> list[StoredBeneficiary]:
        """Subjects with their enrolments, programmes and benefits, in the order given."""
        ...

    def count_rows(self) -> dict[str, int]:
        """Row count of every table (or model), for tests and health checks."""
        ...

    # --- identity cases -----------------------------------------------------------------

    def identity_cases(self, *, status: str | None = None) -> list[IdentityCase]:
        """Identity cases (all, or of one status), oldest first."""
        ...

    def get_identity_case(self, case_id: str) -> IdentityCase | None: ...

    def put_identity_case(self, case: IdentityCase) -> None:
        """Insert or replace a case (a decision replaces it with its new status)."""
        ...

    def move_subject(self, from_key: str, into_key: str) -> None:
        """Re-key every row of subject `from_key` to `into_key` (a merge) and drop `from_key`.

        Enrolment keys that start with `from_key` are rewritten to start with `into_key`, and
        source keys derived from it (`sender|programme|~from_key`) to end with `~into_key`.
        """
        ...

    def move_source(self, subject_key: str, source_key: str, into_key: str) -> None:
        """Move one source record, and the enrolments and benefits it carries, to `into_key`
        (a split: `into_key` may be a new subject, whose row the core writes after)."""
        ...

    def deceased_with_open_enrolments(
        self, open_statuses: Sequence[str]
    ) -> list[tuple[str, EnrolmentRecord]]:
        """(subject_key, enrolment) of deceased subjects still enrolled with one of the statuses."""
        ...

    # --- areas --------------------------------------------------------------------------

    def put_areas(self, areas: Sequence[AreaRecord]) -> None:
        """Insert or replace administrative areas."""
        ...

    def load_areas(self, codes: Sequence[str]) -> dict[str, AreaRecord]:
        """The areas among `codes` with all their ancestors (so the hierarchy can be resolved)."""
        ...

    # --- subscriptions ------------------------------------------------------------------

    def add_subscription(self, subscription: SubscriptionRecord) -> None: ...

    def get_subscription(self, code: str) -> SubscriptionRecord | None: ...

    def set_subscription_status(
        self, code: str, status: Literal["subscribe", "unsubscribe"]
    ) -> None: ...

    def active_subscriptions(self, reg_event_type: str) -> list[SubscriptionRecord]:
        """Subscriptions with status `subscribe` for this event type."""
        ...

    # --- transactions (txn status) --------------------------------------------------------

    def add_transaction(self, txn: TransactionRecord) -> None: ...

    def get_transaction(self, correlation_id: str) -> TransactionRecord | None: ...

    def find_transactions(
        self, sender_id: str, *, transaction_id: str | None = None, reference_id: str | None = None
    ) -> list[TransactionRecord]:
        """A sender's transactions by its own `transaction_id` or one of its `reference_id`s."""
        ...

    def update_transaction(
        self,
        correlation_id: str,
        *,
        status: TxnStatus,
        response: dict[str, object] | None,
        error: str | None,
        now: datetime,
    ) -> None: ...

    def claim_pending_transactions(self, limit: int) -> list[TransactionRecord]:
        """Up to `limit` transactions in status `rcvd`, locked against concurrent processors."""
        ...

    # --- outbox -------------------------------------------------------------------------

    def enqueue_outbox(self, job: OutboxJob) -> bool:
        """Add a job; False (and nothing written) when its `dedupe_key` already exists."""
        ...

    def claim_outbox_jobs(
        self, *, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxJob]:
        """Pending jobs due by `now`, made invisible to other claimers until `lease_until`."""
        ...

    def mark_outbox_delivered(self, job_id: str, *, at: datetime) -> None: ...

    def mark_outbox_failed(
        self, job_id: str, *, error: str, next_attempt_at: datetime | None
    ) -> None:
        """Count a failed attempt; `next_attempt_at=None` marks the job dead (no more tries)."""
        ...

    def get_outbox_job(self, job_id: str) -> OutboxJob | None: ...

    def outbox_jobs_for(self, correlation_id: str) -> list[OutboxJob]: ...

    # --- replay memory ------------------------------------------------------------------

    def remember_message(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        """True the first time (sender_id, message_id) is seen (or after it expired)."""
        ...

    def forget_expired_messages(self, now: datetime) -> int: ...

    # --- clients and keys -----------------------------------------------------------------

    def put_client(self, client: ClientRecord) -> None:
        """Insert or replace a client."""
        ...

    def delete_client(self, sender_id: str) -> bool:
        """Remove a client; False when there was none."""
        ...

    def get_client(self, sender_id: str) -> ClientRecord | None: ...

    def list_clients(self) -> list[ClientRecord]: ...

    def put_signing_key(self, key: SigningKeyRecord) -> None: ...

    def signing_keys(self) -> list[SigningKeyRecord]:
        """Every signing key, newest first (retired ones included)."""
        ...

    # --- audit --------------------------------------------------------------------------

    def last_audit_entry(self) -> AuditEntry | None:
        """The entry with the highest `seq`, locked so that two writers cannot fork the chain."""
        ...

    def append_audit(self, entry: AuditEntry) -> None: ...

    def iter_audit(self, *, after_seq: int = 0, batch: int = 1000) -> Iterator[AuditEntry]:
        """Entries in `seq` order, streamed."""
        ...


@runtime_checkable
class Store(Protocol):
    """A database the core can open units of work on."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """A unit of work: commits when the block exits normally, rolls back on an exception."""
        ...
