"""`SqlStore`: the `Store` protocol over SQLAlchemy 2 (SQLite embedded, PostgreSQL in production).

Writes go through SQLAlchemy Core executemany statements (no ORM row-by-row). On PostgreSQL a
batch that writes `bulk_threshold` rows or more (all tables together; benefits dominate) takes
the COPY + set-wise merge path of `bulk.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, delete, event, select, update
from sqlalchemy import exc as sa_exc

from ibr_service.core.errors import StoreError
from ibr_service.core.records import (
    AuditEntry,
    ClientRecord,
    OutboxJob,
    SigningKeyRecord,
    SubscriptionRecord,
    TransactionRecord,
)
from ibr_service.core.store import TxnStatus
from ibr_service.store_sql import process_rows, rows
from ibr_service.store_sql.migrate import upgrade
from ibr_service.store_sql.registry import RegistryMethods
from ibr_service.store_sql.tables import (
    audit_log,
    clients,
    metadata,
    outbox,
    seen_messages,
    signing_keys,
    subscriptions,
    transaction_references,
    transactions,
)

__all__ = ["SqlStore", "SqlTransaction"]


class SqlStore:
    """A `Store` on one SQLAlchemy engine."""

    def __init__(self, engine: Engine, *, bulk_threshold: int = 2000) -> None:
        """`bulk_threshold`: rows per batch from which PostgreSQL writes with COPY."""
        self.engine = engine
        self.bulk_threshold = bulk_threshold

    @classmethod
    def from_url(cls, url: str, *, bulk_threshold: int = 2000, **engine_options: Any) -> SqlStore:
        """Open `url`; SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` transactions."""
        engine = create_engine(url, **engine_options)
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        return cls(engine, bulk_threshold=bulk_threshold)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """One unit of work; a backend constraint/data error becomes `StoreError` after rollback."""
        try:
            with self.engine.begin() as connection:
                yield SqlTransaction(connection, self)
        except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
            raise StoreError(f"the database refused the write: {exc.orig}"[:500]) from exc

    def create_all(self) -> None:
        """Create the tables directly (tests of other parts); production uses `upgrade(url)`.

        On PostgreSQL through the migrations, which also partition the registry tables."""
        if self.is_postgresql:
            upgrade(self.engine.url.render_as_string(hide_password=False))
            return
        metadata.create_all(self.engine)


class SqlTransaction(RegistryMethods):
    """The `StoreTransaction` of `SqlStore`: every method runs on one connection/transaction.

    The registry-data methods live in `registry.py`; the processes (subscriptions, transactions,
    outbox, replay memory, clients, keys, audit) here.
    """

    def __init__(self, connection: Connection, store: SqlStore) -> None:
        self.connection = connection
        self.store = store
        self._dialect = connection.dialect.name
        # SQLite caps bound parameters per statement; PostgreSQL takes large IN lists well.
        self._chunk = 20_000 if self._dialect == "postgresql" else 500
        self._audit_head: AuditEntry | None = None
        """The entry this transaction appended last: the chain's head while it holds the lock."""

    # --- subscriptions --------------------------------------------------------------------

    def add_subscription(self, subscription: SubscriptionRecord) -> None:
        self.connection.execute(
            subscriptions.insert(), [process_rows.subscription_row(subscription)]
        )

    def get_subscription(self, code: str) -> SubscriptionRecord | None:
        r = self.connection.execute(
            select(subscriptions).where(subscriptions.c.code == code)
        ).first()
        return None if r is None else process_rows.subscription(r._mapping)

    def set_subscription_status(
        self, code: str, status: Literal["subscribe", "unsubscribe"]
    ) -> None:
        self.connection.execute(
            update(subscriptions).where(subscriptions.c.code == code).values(status=status)
        )

    def active_subscriptions(self, reg_event_type: str) -> list[SubscriptionRecord]:
        query = (
            select(subscriptions)
            .where(
                subscriptions.c.reg_event_type == reg_event_type,
                subscriptions.c.status == "subscribe",
            )
            .order_by(subscriptions.c.created_at, subscriptions.c.code)
        )
        return [process_rows.subscription(r._mapping) for r in self.connection.execute(query)]

    # --- transactions ---------------------------------------------------------------------

    def add_transaction(self, txn: TransactionRecord) -> None:
        self.connection.execute(transactions.insert(), [process_rows.transaction_row(txn)])
        refs = [
            {"sender_id": txn.sender_id, "reference_id": ref, "correlation_id": txn.correlation_id}
            for ref in sorted(set(txn.reference_ids))
        ]
        self._insert_ignore(transaction_references, refs)

    def get_transaction(self, correlation_id: str) -> TransactionRecord | None:
        r = self.connection.execute(
            select(transactions).where(transactions.c.correlation_id == correlation_id)
        ).first()
        return None if r is None else self._transaction(r._mapping)

    def _transaction(self, mapping: Any) -> TransactionRecord:
        refs = self.connection.execute(
            select(transaction_references.c.reference_id)
            .where(transaction_references.c.correlation_id == mapping["correlation_id"])
            .order_by(transaction_references.c.reference_id)
        ).scalars()
        return process_rows.transaction(mapping, tuple(refs))

    def find_transactions(
        self, sender_id: str, *, transaction_id: str | None = None, reference_id: str | None = None
    ) -> list[TransactionRecord]:
        t = transactions.c
        query = select(transactions).where(t.sender_id == sender_id)
        if transaction_id is not None:
            query = query.where(t.transaction_id == transaction_id)
        if reference_id is not None:
            refs = transaction_references.c
            query = query.where(
                t.correlation_id.in_(
                    select(refs.correlation_id).where(
                        refs.sender_id == sender_id, refs.reference_id == reference_id
                    )
                )
            )
        query = query.order_by(t.created_at, t.correlation_id)
        return [self._transaction(r._mapping) for r in self.connection.execute(query)]

    def update_transaction(
        self,
        correlation_id: str,
        *,
        status: TxnStatus,
        response: dict[str, object] | None,
        error: str | None,
        now: datetime,
    ) -> None:
        self.connection.execute(
            update(transactions)
            .where(transactions.c.correlation_id == correlation_id)
            .values(status=status, response=response, error=error, updated_at=rows.utc(now))
        )

    def claim_pending_transactions(self, limit: int) -> list[TransactionRecord]:
        t = transactions.c
        oldest = (
            select(t.correlation_id)
            .where(t.status == "rcvd")
            .order_by(t.created_at, t.correlation_id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            # One statement: lock the oldest unlocked rows (skipping those another processor
            # holds) and mark them, instead of a query and an UPDATE per transaction.
            locked = oldest.with_for_update(skip_locked=True).cte("claimable")
            claimed_rows = list(
                self.connection.execute(
                    update(transactions)
                    .where(t.correlation_id == locked.c.correlation_id)
                    .values(status="pdng")
                    .returning(*transactions.c)
                )
            )
            claimed_rows.sort(key=lambda r: (r.created_at, r.correlation_id))
            return self._transactions([r._mapping for r in claimed_rows])
        claimed = []
        for correlation_id in list(self.connection.execute(oldest).scalars()):
            # Conditional update: on SQLite (no row locks) the loser of a race updates 0 rows.
            result = self.connection.execute(
                update(transactions)
                .where(t.correlation_id == correlation_id, t.status == "rcvd")
                .values(status="pdng")
                .returning(*transactions.c)
            ).first()
            if result is not None:
                claimed.append(result._mapping)
        return self._transactions(claimed)

    def _transactions(self, mappings: list[Any]) -> list[TransactionRecord]:
        """Records of `mappings` (transaction rows), their reference ids read in one query."""
        if not mappings:
            return []
        refs = transaction_references.c
        by_id: dict[str, list[str]] = {m["correlation_id"]: [] for m in mappings}
        query = (
            select(refs.correlation_id, refs.reference_id)
            .where(refs.correlation_id.in_(list(by_id)))
            .order_by(refs.correlation_id, refs.reference_id)
        )
        for correlation_id, reference_id in self.connection.execute(query):
            by_id[correlation_id].append(reference_id)
        return [process_rows.transaction(m, tuple(by_id[m["correlation_id"]])) for m in mappings]

    # --- outbox ---------------------------------------------------------------------------

    def enqueue_outbox(self, job: OutboxJob) -> bool:
        stmt = (
            self._insert(outbox)
            .values(process_rows.outbox_row(job))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(outbox.c.job_id)
        )
        return self.connection.execute(stmt).first() is not None

    def claim_outbox_jobs(
        self, *, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxJob]:
        o = outbox.c
        now, lease_until = rows.utc(now), rows.utc(lease_until)
        due = (
            (o.status == "pending")
            & (o.next_attempt_at <= now)
            & (o.lease_until.is_(None) | (o.lease_until <= now))
        )
        query = select(outbox).where(due).order_by(o.next_attempt_at, o.job_id).limit(limit)
        if self._dialect == "postgresql":
            locked = (
                select(o.job_id)
                .where(due)
                .order_by(o.next_attempt_at, o.job_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .cte("claimable")
            )
            leased = list(
                self.connection.execute(
                    update(outbox)
                    .where(o.job_id == locked.c.job_id)
                    .values(lease_until=lease_until)
                    .returning(*outbox.c)
                )
            )
            leased.sort(key=lambda r: (r.next_attempt_at, r.job_id))
            return [process_rows.outbox_job(r._mapping) for r in leased]
        claimed = []
        for r in list(self.connection.execute(query)):
            result = self.connection.execute(
                update(outbox).where(o.job_id == r.job_id, due).values(lease_until=lease_until)
            )
            if result.rowcount == 1:
                claimed.append(process_rows.outbox_job(r._mapping))
        return claimed

    def mark_outbox_delivered(self, job_id: str, *, at: datetime) -> None:
        self.connection.execute(
            update(outbox)
            .where(outbox.c.job_id == job_id)
            .values(
                status="delivered",
                delivered_at=rows.utc(at),
                attempts=outbox.c.attempts + 1,
                lease_until=None,
            )
        )

    def mark_outbox_failed(
        self, job_id: str, *, error: str, next_attempt_at: datetime | None
    ) -> None:
        values: dict[str, Any] = {
            "attempts": outbox.c.attempts + 1,
            "last_error": error[:2000],
            "lease_until": None,
        }
        if next_attempt_at is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = rows.utc(next_attempt_at)
        self.connection.execute(update(outbox).where(outbox.c.job_id == job_id).values(**values))

    def get_outbox_job(self, job_id: str) -> OutboxJob | None:
        r = self.connection.execute(select(outbox).where(outbox.c.job_id == job_id)).first()
        return None if r is None else process_rows.outbox_job(r._mapping)

    def outbox_jobs_for(self, correlation_id: str) -> list[OutboxJob]:
        query = (
            select(outbox)
            .where(outbox.c.correlation_id == correlation_id)
            .order_by(outbox.c.created_at)
        )
        return [process_rows.outbox_job(r._mapping) for r in self.connection.execute(query)]

    # --- replay memory --------------------------------------------------------------------

    def remember_message(self, sender_id: str, message_id: str, expires_at: datetime) -> bool:
        now = datetime.now(UTC)
        s = seen_messages.c
        row = {"sender_id": sender_id, "message_id": message_id, "expires_at": rows.utc(expires_at)}
        # One statement on every request: a new pair is inserted, an expired one is renewed
        # (it counts as new again), a live one is left alone and returns no row (a replay).
        stmt = self._insert(seen_messages).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["sender_id", "message_id"],
            set_={"expires_at": stmt.excluded.expires_at},
            where=s.expires_at <= now,
        ).returning(s.message_id)
        return self.connection.execute(stmt).first() is not None

    def forget_expired_messages(self, now: datetime) -> int:
        result = self.connection.execute(
            seen_messages.delete().where(seen_messages.c.expires_at <= rows.utc(now))
        )
        return int(result.rowcount)

    # --- clients and keys -----------------------------------------------------------------

    def put_client(self, client: ClientRecord) -> None:
        self._upsert(clients, [process_rows.client_row(client)], ["sender_id"])

    def delete_client(self, sender_id: str) -> bool:
        result = self.connection.execute(delete(clients).where(clients.c.sender_id == sender_id))
        return bool(result.rowcount)

    def get_client(self, sender_id: str) -> ClientRecord | None:
        r = self.connection.execute(select(clients).where(clients.c.sender_id == sender_id)).first()
        return None if r is None else process_rows.client(r._mapping)

    def list_clients(self) -> list[ClientRecord]:
        query = select(clients).order_by(clients.c.sender_id)
        return [process_rows.client(r._mapping) for r in self.connection.execute(query)]

    def put_signing_key(self, key: SigningKeyRecord) -> None:
        self._upsert(
            signing_keys,
            [
                {
                    "kid": key.kid,
                    "private_jwk": key.private_jwk,
                    "created_at": rows.utc(key.created_at),
                    "retired_at": rows.aware_or_none(key.retired_at),
                }
            ],
            ["kid"],
        )

    def signing_keys(self) -> list[SigningKeyRecord]:
        query = select(signing_keys).order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
        return [
            SigningKeyRecord(
                r.kid, r.private_jwk, rows.aware(r.created_at), rows.aware_or_none(r.retired_at)
            )
            for r in self.connection.execute(query)
        ]

    # --- audit ----------------------------------------------------------------------------

    def last_audit_entry(self) -> AuditEntry | None:
        if self._audit_head is not None:
            # This transaction appended it and still holds the lock (PostgreSQL) or the write
            # lock (SQLite's BEGIN IMMEDIATE): no one else can have appended since.
            return self._audit_head
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)
        if self._dialect == "postgresql":
            # Serialise appenders: the lock is taken before reading the chain's head.
            self.connection.exec_driver_sql("SELECT pg_advisory_xact_lock(734201)")
        r = self.connection.execute(query).first()
        return None if r is None else process_rows.audit_entry(r._mapping)

    def append_audit(self, entry: AuditEntry) -> None:
        self.connection.execute(audit_log.insert(), [process_rows.audit_row(entry)])
        self._audit_head = entry

    def append_audit_entries(self, entries: Sequence[AuditEntry]) -> None:
        """Several entries in one statement (the read audits' group commit)."""
        if entries:
            rows_ = [process_rows.audit_row(e) for e in entries]
            self.connection.execute(audit_log.insert(), rows_)
            self._audit_head = entries[-1]

    def iter_audit(self, *, after_seq: int = 0, batch: int = 1000) -> Iterator[AuditEntry]:
        last = after_seq
        while True:
            query = (
                select(audit_log)
                .where(audit_log.c.seq > last)
                .order_by(audit_log.c.seq)
                .limit(batch)
            )
            page = [process_rows.audit_entry(r._mapping) for r in self.connection.execute(query)]
            yield from page
            if len(page) < batch:
                return
            last = page[-1].seq


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE (writers queue instead of failing)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below drive transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
