"""Group commit of read audits: many reads, one append transaction, the same hash chain.

A read (`sync/enrolled`, `sync/search`) hands its entry to `AuditBatcher.record` and waits: the
first waiting thread becomes the leader, takes every entry queued so far (at most `max_batch`),
appends them in one unit of work (the store's chain-head lock, the head, the entries, commit)
and wakes their threads; the next queued thread then leads the next batch. So a read's answer
leaves only after its entry is committed, and a failed append fails every read of that batch.

Several processes stay safe because each batch takes the chain's head under the store's lock
(`StoreTransaction.last_audit_entry`), exactly as a single append does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ibr_service.core.audit import GENESIS_HASH, entry_hash
from ibr_service.core.records import AuditEntry, JsonDict
from ibr_service.core.store import Store, StoreTransaction

__all__ = ["AuditBatcher", "AuditRecord", "append_audits"]

DEFAULT_MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An entry before the chain gives it a sequence number and hashes."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: JsonDict


@runtime_checkable
class _AppendsMany(Protocol):
    def append_audit_entries(self, entries: Sequence[AuditEntry]) -> None: ...


def append_audits(tx: StoreTransaction, records: Sequence[AuditRecord]) -> list[AuditEntry]:
    """Append `records` in order at the end of the chain, inside the caller's unit of work."""
    last = tx.last_audit_entry()
    seq = 0 if last is None else last.seq
    prev = GENESIS_HASH if last is None else last.entry_hash
    entries: list[AuditEntry] = []
    for r in records:
        seq += 1
        digest = entry_hash(
            seq=seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            detail=r.detail,
            prev_hash=prev,
        )
        entries.append(AuditEntry(seq, r.at, r.actor, r.action, r.subject, r.detail, prev, digest))
        prev = digest
    if isinstance(tx, _AppendsMany):
        tx.append_audit_entries(entries)
    else:
        for entry in entries:
            tx.append_audit(entry)
    return entries


@dataclass(eq=False, slots=True)
class _Waiting:
    record: AuditRecord
    woken: threading.Event = field(default_factory=threading.Event)
    entry: AuditEntry | None = None
    error: BaseException | None = None


class AuditBatcher:
    """Appends the entries of concurrent reads together; `record` returns once committed."""

    def __init__(self, store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._leading = False  # a thread is appending a batch or has been woken to lead one

    def record(self, record: AuditRecord) -> AuditEntry:
        """Append `record` with whatever else is waiting; raise what the append raised."""
        waiting = _Waiting(record)
        with self._lock:
            self._queue.append(waiting)
            lead = not self._leading
            self._leading = True
        if not lead:
            waiting.woken.wait()
        if waiting.entry is None and waiting.error is None:
            self._append_batch()  # this thread leads: it is first in the queue
        if waiting.error is not None:
            raise waiting.error
        assert waiting.entry is not None
        return waiting.entry

    def _append_batch(self) -> None:
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            with self.store.transaction() as tx:
                entries = append_audits(tx, [w.record for w in batch])
            for w, entry in zip(batch, entries, strict=True):
                w.entry = entry
        except BaseException as exc:
            for w in batch:
                w.error = exc
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        for w in batch:
            w.woken.set()
        if successor is not None:
            successor.woken.set()
