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

from ibr_protocol.canonical_json import canonical_json
from ibr_service.core.records import AuditEntry, JsonDict
from ibr_service.core.store import Store, StoreTransaction

__all__ = [
    "GENESIS_HASH",
    "AuditHead",
    "AuditVerification",
    "append_audit",
    "audit_head",
    "audit_verify",
    "entry_hash",
    "parse_head",
]

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
    return hashlib.sha256(canonical_json(body)).hexdigest()


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


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last entry's sequence number and hash: copied off-site, it detects a cut tail."""

    seq: int
    entry_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash}"


def parse_head(text: str) -> AuditHead:
    """``SEQ:HASH`` as printed by ``ibr audit head``; ValueError when it is not that."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(digest) != 64:
        raise ValueError(f"expected SEQ:HASH as printed by `ibr audit head`, got {text[:80]!r}")
    try:
        int(digest, 16)
    except ValueError:
        raise ValueError("the HASH of SEQ:HASH must be 64 hexadecimal digits") from None
    return AuditHead(int(seq), digest.lower())


def audit_head(store: Store) -> AuditHead | None:
    """The current head of the chain (None for an empty log)."""
    with store.transaction() as tx:
        last = tx.last_audit_entry()
    return None if last is None else AuditHead(last.seq, last.entry_hash)


def audit_verify(store: Store, *, expect_head: AuditHead | None = None) -> AuditVerification:
    """Recompute every hash and link; report the first entry that does not fit.

    The chain alone cannot tell that its tail was deleted; with ``expect_head`` (a head copied
    off-site earlier) the log must still contain that entry, with that hash.
    """
    walked = _verify_chain(store, expect_head)
    if not walked.ok or expect_head is None:
        return walked
    if walked.entries < expect_head.seq:
        return AuditVerification(
            False,
            walked.entries,
            walked.entries + 1,
            f"the log ends at seq {walked.entries} but the recorded head is seq "
            f"{expect_head.seq}: entries {walked.entries + 1}..{expect_head.seq} were removed",
        )
    return walked


def _verify_chain(store: Store, expect_head: AuditHead | None) -> AuditVerification:
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
            if (
                expect_head
                and entry.seq == expect_head.seq
                and entry.entry_hash != expect_head.entry_hash
            ):
                return AuditVerification(
                    False,
                    count,
                    entry.seq,
                    "the entry at the recorded head has another hash (the log was rewritten "
                    "from there on)",
                )
            prev = entry.entry_hash
            expected_seq += 1
    return AuditVerification(True, count)
