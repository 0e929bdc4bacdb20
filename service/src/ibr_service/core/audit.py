"""The append-only audit log, hash-chained so that editing or deleting an entry is detectable.

Each entry's hash is SHA-256 over the RFC 8785 (JCS) canonical JSON of its fields and the hash
of the entry before it; the first entry chains to `GENESIS_HASH`. The store only keeps the
entries; computing and checking the chain happens here, so every store gets the same guarantee.
Entries never hold personal data values: `subject` is a subject key, programme or correlation id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from ibr_service.core.records import AuditEntry, JsonDict
from ibr_service.core.store import Store, StoreTransaction

__all__ = ["GENESIS_HASH", "AuditVerification", "append_audit", "audit_verify", "entry_hash"]

GENESIS_HASH = "0" * 64


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: JsonDict,
    prev_hash: str,
) -> str:
    """The chained hash of one entry."""
    body: dict[str, Any] = {
        "seq": seq,
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def append_audit(
    tx: StoreTransaction, *, at: datetime, actor: str, action: str, subject: str, detail: JsonDict
) -> AuditEntry:
    """Append one entry at the end of the chain, inside the caller's unit of work."""
    last = tx.last_audit_entry()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.entry_hash
    digest = entry_hash(
        seq=seq, at=at, actor=actor, action=action, subject=subject, detail=detail, prev_hash=prev
    )
    entry = AuditEntry(seq, at, actor, action, subject, detail, prev, digest)
    tx.append_audit(entry)
    return entry


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of walking the whole chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def audit_verify(store: Store) -> AuditVerification:
    """Recompute every hash and link; report the first entry that does not fit."""
    count = 0
    prev = GENESIS_HASH
    expected_seq = 1
    with store.transaction() as tx:
        for entry in tx.iter_audit():
            count += 1
            if entry.seq != expected_seq:
                return AuditVerification(
                    False,
                    count,
                    entry.seq,
                    f"sequence gap: expected {expected_seq}, found {entry.seq}",
                )
            if entry.prev_hash != prev:
                return AuditVerification(
                    False, count, entry.seq, "prev_hash does not match the previous entry's hash"
                )
            recomputed = entry_hash(
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                subject=entry.subject,
                detail=entry.detail,
                prev_hash=entry.prev_hash,
            )
            if recomputed != entry.entry_hash:
                return AuditVerification(
                    False, count, entry.seq, "entry content does not match its hash (edited)"
                )
            prev = entry.entry_hash
            expected_seq += 1
    return AuditVerification(True, count)
