"""Conversions between the process records (subscriptions, transactions, outbox jobs, clients,
audit entries) and their table rows, both ways; the registry data's are in `rows.py`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ibr_service.core.records import (
    AuditEntry,
    ClientRecord,
    OutboxJob,
    SubscriptionRecord,
    TransactionRecord,
)
from ibr_service.store_sql.rows import Row, aware, aware_or_none, utc

# --- records -> rows ----------------------------------------------------------------------


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
        read_programmes=read if read in ("own", "all") else frozenset(read),
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
