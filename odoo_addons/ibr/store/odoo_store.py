"""`OdooStore`: the core's SQL store on the Odoo cursor of the current environment.

The core's tables live in Odoo's own database, in the schema `ibr` (created at install by
`schema.create_core_schema`). A unit of work is a savepoint inside Odoo's transaction: it rolls
back alone when it fails and commits only when Odoo commits the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy import exc as sa_exc

from ibr_service.core.errors import StoreError
from ibr_service.core.records import AuditEntry, OutboxJob, TransactionRecord
from ibr_service.store_sql import SqlStore, SqlTransaction, process_rows
from ibr_service.store_sql.tables import audit_log

from .cursor_dialect import CURRENT_CONNECTION, cursor_engine

__all__ = ["CORE_SCHEMA", "OdooStore"]

CORE_SCHEMA = "ibr"


class OdooStore(SqlStore):
    """A `Store` whose every statement runs in the transaction of `env.cr`."""

    def __init__(self, env: Any, *, bulk_threshold: int = 2000, wake_outbox: bool = True) -> None:
        super().__init__(cursor_engine(), bulk_threshold=bulk_threshold)
        self.env = env
        self.wake_outbox = wake_outbox

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self.connection() as connection:
            tx = OdooTransaction(connection, self)
            yield tx
        if tx.queued and self.wake_outbox:
            wake_outbox_cron(self.env)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A SQLAlchemy connection on Odoo's cursor, inside a savepoint, the core's schema first.

        The ORM's pending writes are flushed before and its cache is invalidated after, so Odoo
        models (the SQL views over the core's tables) see what the core wrote.
        """
        cr = self.env.cr
        self.env.flush_all()
        token = CURRENT_CONNECTION.set(cr._cnx)
        try:
            with cr.savepoint(flush=False), cursor_engine().connect() as connection:
                previous = connection.exec_driver_sql("SHOW search_path").scalar_one()
                # SET LOCAL inside the savepoint: a rollback to it restores the path by itself.
                connection.exec_driver_sql(f"SET LOCAL search_path TO {CORE_SCHEMA}, public")
                yield connection
                connection.exec_driver_sql(
                    "SELECT set_config('search_path', %(path)s, true)", {"path": previous}
                )
        except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
            raise StoreError(f"the database refused the write: {exc.orig}"[:500]) from exc
        finally:
            CURRENT_CONNECTION.reset(token)
            self.env.invalidate_all()

    def create_all(self) -> None:
        """Create the core's tables in the core's schema (tests; the add-on uses its hook)."""
        from .schema import create_core_schema

        create_core_schema(self)


class OdooTransaction(SqlTransaction):
    """`SqlTransaction` that notes when it queued work for the outbox cron."""

    queued = False

    def add_transaction(self, txn: TransactionRecord) -> None:
        added = super().add_transaction(txn)  # type: ignore[func-returns-value]
        if txn.status == "rcvd":  # an accepted async request: the dispatcher answers it
            self.queued = True
        return added

    def enqueue_outbox(self, job: OutboxJob) -> bool:
        added = super().enqueue_outbox(job)
        self.queued = self.queued or added
        return added

    def last_audit_entry(self) -> AuditEntry | None:
        """The chain's head as committed now, not as this transaction's snapshot saw it.

        The SQL store serialises appenders with a transaction-level advisory lock taken before
        it reads the head; that is enough under READ COMMITTED, but Odoo's transactions are
        REPEATABLE READ, whose snapshot predates the lock: a rival that committed while this
        one waited would be invisible and both would write the same `seq`. Once the lock is
        held nobody else can append, so the later of this snapshot's head (it holds this
        transaction's own entries) and the head a fresh connection reads is the true head.
        """
        mine = super().last_audit_entry()  # takes the lock
        committed = _committed_audit_head(self.store)
        heads = [head for head in (mine, committed) if head is not None]
        return max(heads, key=lambda head: head.seq) if heads else None


def _committed_audit_head(store: OdooStore) -> AuditEntry | None:
    """The audit chain's last committed entry, read on a connection of its own."""
    from odoo import sql_db

    with sql_db.db_connect(store.env.cr.dbname).cursor() as cr:
        # Local to this cursor's transaction, which ends with it.
        cr.execute("SELECT set_config('search_path', %s, true)", [f"{CORE_SCHEMA}, public"])
        token = CURRENT_CONNECTION.set(cr._cnx)
        try:
            with cursor_engine().connect() as connection:
                query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)
                row = connection.execute(query).first()
        finally:
            CURRENT_CONNECTION.reset(token)
    return None if row is None else process_rows.audit_entry(row._mapping)


def wake_outbox_cron(env: Any, at: Any = None) -> None:
    """Run the outbox cron as soon as this transaction commits (or at `at`), not at its next
    minute: Odoo's cron workers are woken by a trigger (NOTIFY on commit)."""
    cron = env.ref("ibr.cron_ibr_outbox", raise_if_not_found=False)
    if cron:
        cron.sudo()._trigger(at)
