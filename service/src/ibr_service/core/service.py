"""`IbrCore`: every IBR process, called by a host with canonical message dicts.

Each public method is one unit of work: everything it writes (data, status history, transaction
record, outbox jobs, audit entries) commits together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ibr_protocol import build_callback, format_timestamp
from ibr_service.core.audit import append_audit
from ibr_service.core.audit_batch import AuditBatcher, AuditRecord
from ibr_service.core.batch_checks import REASON_OVERLAP_DETECTED, BatchCheck
from ibr_service.core.caller import Caller, ReadScope
from ibr_service.core.errors import NotFoundError, RequestError, StoreError, TxnNotFoundError
from ibr_service.core.ingest import (
    REASON_DUPLICATE_REFERENCE,
    REASON_INVALID,
    ItemRejectedError,
    updates_from_beneficiary,
)
from ibr_service.core.item_validation import canonical_item
from ibr_service.core.records import (
    EnrolmentUpdate,
    JsonDict,
    OutboxJob,
    TransactionRecord,
)
from ibr_service.core.registry import BatchResult, apply_batch, no_collection_pauses
from ibr_service.core.search import enrolled_item, search_item
from ibr_service.core.settings import CoreSettings
from ibr_service.core.store import Store, StoreTransaction, TxnStatus
from ibr_service.core.subscriptions import (
    matching_notifications,
    notify_message,
    notify_target,
    subscribe_item,
    unsubscribe,
)

__all__ = ["ASYNC_ACTIONS", "IbrCore", "utc_now"]

PENDING_CHUNK = 10
"""Accepted async transactions processed per unit of work by `run_pending`: one commit for
several, while the audit chain's lock (taken by the first read's audit entry) is held only for
the few milliseconds the chunk takes, so that ACKs waiting to append theirs are not delayed."""

ASYNC_ACTIONS: Mapping[str, str] = {
    "search": "on-search",
    "subscribe": "on-subscribe",
    "unsubscribe": "on-unsubscribe",
    "txn-status": "txn-on-status",
}
"""Async request action -> the action of the callback that answers it."""


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class IbrCore:
    """The IBR processes over a `Store`.

    >>> core = IbrCore(store, clock=utc_now, settings=CoreSettings(receiver_id="IBR"))
    >>> core.enrolled(message, caller=Caller(sender_id="SP-System"))
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        settings: CoreSettings | None = None,
        batch_checks: Sequence[BatchCheck] = (),
        batch_read_audits: bool = False,
    ) -> None:
        """`batch_read_audits`: the audit entries of sync reads are appended in group commits
        (`AuditBatcher`) after the read instead of one by one inside it; a host whose store
        opens independent units of work from several threads (SQL) turns it on."""
        self.store = store
        self.clock = clock
        self.settings = settings or CoreSettings()
        self.batch_checks = tuple(batch_checks)
        self.read_audits = AuditBatcher(store) if batch_read_audits else None

    # --- sync/enrollment/updates --------------------------------------------------------

    def enrollment_updates(
        self, message: Mapping[str, Any], *, caller: Caller, header: Mapping[str, Any] | None = None
    ) -> JsonDict:
        """Upsert a batch of Beneficiary records; per-item `succ`/`rjct`, idempotent on re-send."""
        # The records built per item live until the batch is written (see no_collection_pauses).
        with no_collection_pauses():
            return self._enrollment_updates(message, caller=caller, header=header)

    def _enrollment_updates(
        self, message: Mapping[str, Any], *, caller: Caller, header: Mapping[str, Any] | None
    ) -> JsonDict:
        now = self.clock()
        now_text = format_timestamp(now)
        beneficiaries = _beneficiaries(message)
        if len(beneficiaries) > self.settings.max_batch_items:
            raise RequestError(
                f"at most {self.settings.max_batch_items} beneficiaries per request",
                field="message.enrolled_updates.beneficiaries",
            )
        correlation_id = str(uuid.uuid4())
        items: list[JsonDict] = []
        valid: list[tuple[int, list[EnrolmentUpdate]]] = []
        seen_references: set[str] = set()
        for i, beneficiary in enumerate(beneficiaries):
            field = f"message.enrolled_updates.beneficiaries[{i}]"
            reference = _reference_id(beneficiary, i)
            try:
                if reference in seen_references:
                    raise ItemRejectedError(
                        "reference_id is used by an earlier item of this batch",
                        field=f"{field}.reference_id",
                        reason=REASON_DUPLICATE_REFERENCE,
                    )
                if reference != str(i + 1):
                    seen_references.add(reference)
                updates = updates_from_beneficiary(
                    canonical_item(beneficiary, field=field),
                    caller=caller,
                    now=now,
                    identifier_types=self.settings.identifier_types,
                    field=field,
                    future_tolerance_days=self.settings.future_date_tolerance_days,
                )
            except ItemRejectedError as exc:
                message_text = f"{exc.field}: {exc.message}"
                items.append(_item(reference, now_text, "rjct", exc.reason, message_text))
                continue
            items.append(_item(reference, now_text, "succ"))
            valid.append((i, updates))
        response: JsonDict = {
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "enrolled_response": items,
        }
        try:
            self._apply_batch(valid, items, caller, header, correlation_id, response, now)
        except StoreError:
            # One item broke a backend rule: apply item by item and reject only the culprits.
            for i, updates in valid:
                try:
                    self._apply_batch(
                        [(i, updates)], items, caller, None, f"{correlation_id}:{i}", None, now
                    )
                except StoreError as exc:
                    reference = str(items[i]["reference_id"])
                    items[i] = _item(reference, now_text, "rjct", REASON_INVALID, exc.message)
            self._record_transaction(
                caller, header, correlation_id, "enrollment-updates", response, now
            )
        return response

    def _apply_batch(
        self,
        valid: Sequence[tuple[int, list[EnrolmentUpdate]]],
        items: list[JsonDict],
        caller: Caller,
        header: Mapping[str, Any] | None,
        correlation_id: str,
        response: JsonDict | None,
        now: datetime,
    ) -> None:
        fields = [f"message.enrolled_updates.beneficiaries[{i}]" for i, _ in valid]
        with self.store.transaction() as tx:
            result = apply_batch(
                tx, [u for _, u in valid], fields=fields, settings=self.settings, now=now
            )
            for position, violation in result.rejected.items():
                i = valid[position][0]
                items[i] = _item(
                    str(items[i]["reference_id"]),
                    format_timestamp(now),
                    "rjct",
                    violation.reason,
                    f"{violation.field}: {violation.message}",
                )
            if not result.write.is_empty():
                append_audit(
                    tx,
                    at=now,
                    actor=caller.sender_id,
                    action="enrolment.write",
                    subject=correlation_id,
                    detail=_write_detail(result),
                )
                self._notify(tx, result, correlation_id, now)
                self._check_batch(tx, valid, result, items, caller, now)
            if response is not None:
                tx.add_transaction(
                    _transaction(
                        caller, header, correlation_id, "enrollment-updates", response, now
                    )
                )

    def _check_batch(
        self,
        tx: StoreTransaction,
        valid: Sequence[tuple[int, list[EnrolmentUpdate]]],
        result: BatchResult,
        items: list[JsonDict],
        caller: Caller,
        now: datetime,
    ) -> None:
        """Run the host's batch checks; an item in a new conflict is noted, never refused."""
        changed = {
            position: {o.enrolment_key for o in outcomes if o.result in ("created", "updated")}
            for position, outcomes in enumerate(result.outcomes)
            if position not in result.rejected
        }
        touched = frozenset(key for keys in changed.values() for key in keys)
        if not touched or not self.batch_checks:
            return
        conflicts = [c for check in self.batch_checks for c in check(tx, touched, now)]
        readable = caller.read.programmes
        for position, keys in changed.items():
            own = {u.programme.programme_identifier for u in valid[position][1]}
            mine = [c for c in conflicts if keys & c.enrolment_keys]
            if not mine:
                continue
            others = sorted(
                p if readable is None or p in readable else "another programme"
                for c in mine
                for p in (c.programmes - own or c.programmes)
            )
            cases = ", ".join(sorted(c.case_id for c in mine))
            i = valid[position][0]
            items[i] = _item(
                str(items[i]["reference_id"]),
                str(items[i]["timestamp"]),
                "succ",
                REASON_OVERLAP_DETECTED,
                f"accepted; enrolled in a programme it may not combine with "
                f"({', '.join(dict.fromkeys(others))}): overlap case {cases} opened",
            )

    def _record_transaction(
        self,
        caller: Caller,
        header: Mapping[str, Any] | None,
        correlation_id: str,
        action: str,
        response: JsonDict,
        now: datetime,
    ) -> None:
        with self.store.transaction() as tx:
            tx.add_transaction(_transaction(caller, header, correlation_id, action, response, now))

    def _notify(
        self, tx: StoreTransaction, result: BatchResult, correlation_id: str, now: datetime
    ) -> None:
        matched = matching_notifications(tx, result.applied, deaths=result.newly_deceased, now=now)
        for code, (subscription, records) in matched.items():
            message = notify_message(
                subscription,
                records,
                transaction_id=correlation_id,
                now_text=format_timestamp(now),
            )
            # notify travels with a callback header (status, counts), as DCI and the spec's
            # envelope_notify_event_request require; a request header is rejected by receivers.
            envelope = build_callback(
                action="notify",
                message=message,
                status="succ",
                sender_id=self.settings.receiver_id,
                receiver_id=subscription.sender_id,
                completed_count=len(records),
                now=now,
            )
            tx.enqueue_outbox(
                _job(
                    f"{correlation_id}:notify:{code}",
                    correlation_id,
                    "notify",
                    subscription.sender_id,
                    subscription.callback_uri,
                    envelope,
                    now,
                )
            )

    # --- sync/enrolled ------------------------------------------------------------------

    def enrolled(
        self, message: Mapping[str, Any], *, caller: Caller, header: Mapping[str, Any] | None = None
    ) -> JsonDict:
        """Answer yes/no per criteria item; nothing about *which* enrolment is disclosed."""
        now = self.clock()
        now_text = format_timestamp(now)
        criteria = message.get("enrolled_criteria")
        if criteria is None:
            raise RequestError("enrolled_criteria is required", field="message.enrolled_criteria")
        batch = criteria if isinstance(criteria, list) else [criteria]
        correlation_id = str(uuid.uuid4())
        with self.store.transaction() as tx:
            answers = [
                enrolled_item(
                    tx,
                    raw,
                    index=i if isinstance(criteria, list) else None,
                    settings=self.settings,
                    now_text=now_text,
                )
                for i, raw in enumerate(batch)
            ]
            audit = AuditRecord(
                at=now,
                actor=caller.sender_id,
                action="enrolled.check",
                subject=correlation_id,
                detail={
                    "message_id": _message_id(header),
                    "checks": len(answers),
                    "yes": sum(1 for a in answers if a.get("enrolled_status") == "yes"),
                },
            )
            self._audit_read(tx, audit)
        self._audit_read_committed(audit)
        return {
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "enrolled_response": answers,
        }

    # --- search -------------------------------------------------------------------------

    def sync_search(
        self, message: Mapping[str, Any], *, caller: Caller, header: Mapping[str, Any] | None = None
    ) -> JsonDict:
        """Answer a SearchRequest at once with Beneficiary records, one page per item."""
        correlation_id = str(uuid.uuid4())
        with self.store.transaction() as tx:
            answer, audit = self._search_answer(tx, message, caller, header, correlation_id)
            self._audit_read(tx, audit)
        self._audit_read_committed(audit)
        return answer

    def _audit_read(self, tx: StoreTransaction, audit: AuditRecord) -> None:
        """Append a read's entry inside the read, unless reads are audited in group commits."""
        if self.read_audits is None:
            _append_record(tx, audit)

    def _audit_read_committed(self, audit: AuditRecord) -> None:
        """With group commits: return only once the read's entry is committed."""
        if self.read_audits is not None:
            self.read_audits.record(audit)

    def _search(
        self,
        tx: StoreTransaction,
        message: Mapping[str, Any],
        caller: Caller,
        header: Mapping[str, Any] | None,
        correlation_id: str,
    ) -> JsonDict:
        """Answer a search and append its audit entry within `tx` (the async path)."""
        answer, audit = self._search_answer(tx, message, caller, header, correlation_id)
        _append_record(tx, audit)
        return answer

    def _search_answer(
        self,
        tx: StoreTransaction,
        message: Mapping[str, Any],
        caller: Caller,
        header: Mapping[str, Any] | None,
        correlation_id: str,
    ) -> tuple[JsonDict, AuditRecord]:
        now = self.clock()
        requests = message.get("search_request")
        if not isinstance(requests, list) or not requests:
            raise RequestError(
                "search_request must be a non-empty list", field="message.search_request"
            )
        outcomes = [
            search_item(
                tx,
                raw,
                index=i,
                settings=self.settings,
                now_text=format_timestamp(now),
                caller=caller,
            )
            for i, raw in enumerate(requests)
        ]
        disclosed = sorted({key for o in outcomes for key in o.disclosed})
        refused = [
            str(o.item.get("status_reason_message", ""))
            for o in outcomes
            if o.item.get("status") == "rjct"
        ]
        audit = AuditRecord(
            at=now,
            actor=caller.sender_id,
            action="search.read",
            subject=correlation_id,
            detail={
                "message_id": _message_id(header),
                "subjects": disclosed,
                "refused": [r.split(":", 1)[0] for r in refused],
            },
        )
        answer: JsonDict = {
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "search_response": [o.item for o in outcomes],
        }
        return answer, audit

    # --- txn/status ---------------------------------------------------------------------

    def txn_status(
        self, message: Mapping[str, Any], *, caller: Caller, header: Mapping[str, Any] | None = None
    ) -> JsonDict:
        """Report the state (and result, when done) of one of the caller's transactions."""
        with self.store.transaction() as tx:
            return self._txn_status(tx, message, caller, str(uuid.uuid4()))

    def _txn_status(
        self, tx: StoreTransaction, message: Mapping[str, Any], caller: Caller, correlation_id: str
    ) -> JsonDict:
        request = message.get("txnstatus_request")
        field = "message.txnstatus_request"
        if not isinstance(request, Mapping):
            raise RequestError("txnstatus_request is required", field=field)
        attribute_type = request.get("attribute_type")
        value = request.get("attribute_value")
        if attribute_type == "correlation_id" and isinstance(value, str):
            found = tx.get_transaction(value)
            txns = [found] if found is not None and found.sender_id == caller.sender_id else []
        elif attribute_type == "transaction_id" and isinstance(value, str):
            txns = tx.find_transactions(caller.sender_id, transaction_id=value)
        elif attribute_type == "reference_id_list" and isinstance(value, list):
            txns = []
            for ref in value:
                for txn in tx.find_transactions(caller.sender_id, reference_id=str(ref)):
                    if txn not in txns:
                        txns.append(txn)
        else:
            raise RequestError(
                "attribute_type must be transaction_id, correlation_id or reference_id_list, "
                "with a matching attribute_value",
                field=f"{field}.attribute_type",
            )
        # Only search, subscribe and receipt transactions have a status to report (IBR-TXN-001),
        # and only of the kind asked: fuzzing found a txn-status transaction answered as a search.
        asked = request.get("txn_type")
        txns = [
            t
            for t in txns
            if _txn_type(t.action) is not None and asked in (None, _txn_type(t.action))
        ]
        if not txns:
            # Another sender's transaction is unknown to the asker too (IBR-TXN-003).
            raise _txn_not_found(
                message, request, attribute_type, caller, correlation_id, self.clock()
            )
        txn = txns[-1]
        txn_type = str(_txn_type(txn.action))
        results = _TXN_RESULTS[txn_type]
        status: JsonDict
        if txn.response is not None and results in txn.response:
            status = dict(txn.response)
        else:
            status = {
                "transaction_id": txn.transaction_id,
                "correlation_id": txn.correlation_id,
                results: [
                    {
                        "reference_id": ref,
                        "timestamp": format_timestamp(txn.updated_at),
                        "status": txn.status,
                    }
                    for ref in (txn.reference_ids or ("1",))
                ],
            }
        return {
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "txnstatus_response": {"txn_type": txn_type, "txn_status": status},
        }

    # --- async --------------------------------------------------------------------------

    def accept_async(self, action: str, envelope: Mapping[str, Any], *, caller: Caller) -> str:
        """Persist an async request (transaction `rcvd`) and return its correlation id.

        The record is committed before this returns, so an ACK sent afterwards survives a
        restart; `run_pending` produces the callback and the audit entry of the acceptance.
        """
        if action not in ASYNC_ACTIONS:
            raise RequestError(
                f"action {action!r} is not asynchronous; use one of {', '.join(ASYNC_ACTIONS)}",
                field="header.action",
            )
        header = envelope.get("header")
        message = envelope.get("message")
        if not isinstance(header, Mapping) or not isinstance(message, Mapping):
            raise RequestError("envelope needs header and message objects", field="header")
        sender_uri = header.get("sender_uri")
        if not isinstance(sender_uri, str) or not sender_uri:
            raise RequestError(
                "sender_uri is required on asynchronous requests (the callback goes there)",
                field="header.sender_uri",
                code="err.sender_uri.invalid",
            )
        now = self.clock()
        correlation_id = str(uuid.uuid4())
        txn = TransactionRecord(
            correlation_id=correlation_id,
            sender_id=caller.sender_id,
            action=action,
            message_id=str(header.get("message_id", "")),
            transaction_id=str(message.get("transaction_id", "")),
            status="rcvd",
            request={
                "header": dict(header),
                "message": dict(message),
                "caller": _caller_doc(caller),
            },
            created_at=now,
            updated_at=now,
            reference_ids=_reference_ids(message),
        )
        with self.store.transaction() as tx:
            # No audit entry here: the stored request is the durable record of the acceptance,
            # and its entry is appended when it is processed (`_process`). The ACK then never
            # waits for the audit chain's lock, which the read paths hold while they answer.
            tx.add_transaction(txn)
        return correlation_id

    def run_pending(self, limit: int = 50, *, chunk: int = PENDING_CHUNK) -> int:
        """Process up to `limit` accepted async transactions; each with its callback job.

        Up to `chunk` of them share one unit of work (one claim query, one commit): a crash
        rolls the whole chunk back to `rcvd`, so nothing is lost. A chunk that fails is done
        again one transaction at a time, so one bad request cannot hold the others back.
        """
        done = 0
        while done < limit:
            size = min(chunk, limit - done)
            try:
                processed = self._process_chunk(size)
            except Exception:
                if size == 1:
                    raise
                processed = sum(self._process_chunk(1) for _ in range(size))
            done += processed
            if processed < size:
                break
        return done

    def _process_chunk(self, size: int) -> int:
        with self.store.transaction() as tx:
            claimed = tx.claim_pending_transactions(size)
            for txn in claimed:
                self._process(tx, txn)
        return len(claimed)

    def _process(self, tx: StoreTransaction, txn: TransactionRecord) -> None:
        now = self.clock()
        now_text = format_timestamp(now)
        header, message = txn.request["header"], txn.request["message"]
        caller = _caller_from_doc(txn.request.get("caller"), txn.sender_id)
        append_audit(
            tx,
            at=now,
            actor=txn.sender_id,
            action=f"async.{txn.action}.accepted",
            subject=txn.correlation_id,
            detail={"message_id": txn.message_id, "accepted_at": format_timestamp(txn.created_at)},
        )
        status: TxnStatus = "succ"
        reason_code: str | None = None
        reason_message: str | None = None
        result: JsonDict
        try:
            if txn.action == "search":
                result = self._search(tx, message, caller, header, txn.correlation_id)
            elif txn.action == "subscribe":
                result = self._subscribe(
                    tx, message, caller, header, txn.correlation_id, now, now_text
                )
            elif txn.action == "unsubscribe":
                result = {
                    "transaction_id": txn.transaction_id,
                    "correlation_id": txn.correlation_id,
                    **unsubscribe(tx, message, sender_id=caller.sender_id, now_text=now_text),
                }
            else:
                result = self._txn_status(tx, message, caller, txn.correlation_id)
        except (RequestError, NotFoundError) as exc:
            status, reason_code = "rjct", _callback_reason(txn.action, exc)
            reason_message = f"{exc.field}: {exc.message}" if exc.field else exc.message
            result = {"transaction_id": txn.transaction_id, "correlation_id": txn.correlation_id}
            if isinstance(exc, TxnNotFoundError):
                # DCI's header reason codes have none for this: the reason is on the item.
                result, reason_code = exc.response, None
        callback_action = ASYNC_ACTIONS[txn.action]
        envelope = build_callback(
            action=callback_action,
            message=result,
            status=status,
            sender_id=self.settings.receiver_id,
            receiver_id=txn.sender_id,
            status_reason_code=reason_code,
            status_reason_message=reason_message,
            now=now,
        )
        tx.update_transaction(
            txn.correlation_id,
            status=status,
            response=result,
            error=reason_message,
            now=now,
        )
        tx.enqueue_outbox(
            _job(
                f"{txn.correlation_id}:{callback_action}",
                txn.correlation_id,
                callback_action,
                txn.sender_id,
                str(header["sender_uri"]),
                envelope,
                now,
            )
        )

    def _subscribe(
        self,
        tx: StoreTransaction,
        message: Mapping[str, Any],
        caller: Caller,
        header: Mapping[str, Any],
        correlation_id: str,
        now: datetime,
        now_text: str,
    ) -> JsonDict:
        requests = message.get("subscribe_request")
        if not isinstance(requests, list) or not requests:
            raise RequestError(
                "subscribe_request must be a non-empty list", field="message.subscribe_request"
            )
        items = [
            subscribe_item(
                tx,
                raw,
                index=i,
                sender_id=caller.sender_id,
                callback_uri=notify_target(str(header["sender_uri"])),
                now=now,
                now_text=now_text,
            )
            for i, raw in enumerate(requests)
        ]
        append_audit(
            tx,
            at=now,
            actor=caller.sender_id,
            action="subscription.write",
            subject=correlation_id,
            detail={"codes": [s["code"] for i in items for s in i.get("subscriptions", [])]},
        )
        return {
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "subscribe_response": items,
        }

    # --- host events --------------------------------------------------------------------

    def record_event(self, *, actor: str, action: str, subject: str, detail: JsonDict) -> None:
        """Append a host event (token issued, client added, key rotated) to the audit log."""
        with self.store.transaction() as tx:
            append_audit(
                tx, at=self.clock(), actor=actor, action=action, subject=subject, detail=detail
            )


# --- helpers ----------------------------------------------------------------------------


def _beneficiaries(message: Mapping[str, Any]) -> list[Any]:
    updates = message.get("enrolled_updates")
    beneficiaries = updates.get("beneficiaries") if isinstance(updates, Mapping) else None
    if not isinstance(beneficiaries, list):
        raise RequestError(
            "enrolled_updates.beneficiaries must be a list",
            field="message.enrolled_updates.beneficiaries",
        )
    return beneficiaries


def _reference_id(beneficiary: Any, index: int) -> str:
    """The item's own reference_id when it has a usable one, else its 1-based position."""
    reference = beneficiary.get("reference_id") if isinstance(beneficiary, Mapping) else None
    if isinstance(reference, str) and 0 < len(reference) <= 99:
        return reference
    return str(index + 1)


def _item(
    reference: str,
    now_text: str,
    status: str,
    reason: str | None = None,
    message: str | None = None,
) -> JsonDict:
    item: JsonDict = {"reference_id": reference, "timestamp": now_text, "status": status}
    if reason is not None:
        item["status_reason_code"] = reason
    if message is not None:
        item["status_reason_message"] = message[:999]
    return item


def _write_detail(result: BatchResult) -> JsonDict:
    changed = [o for _, o in result.applied]
    write = result.write
    return {
        "created": sorted(o.enrolment_key for o in changed if o.result == "created"),
        "updated": sorted(o.enrolment_key for o in changed if o.result == "updated"),
        "status_changes": sum(1 for o in changed if o.previous_status != o.new_status),
        "stale": sum(1 for item in result.outcomes for o in item if o.result == "stale"),
        "sources": len(write.sources),
        "benefit_changes": len(write.benefit_history),
        "identity_cases": sorted(c.case_id for c in write.identity_cases),
        "deceased": sorted(s.subject_key for s in result.newly_deceased),
    }


def _transaction(
    caller: Caller,
    header: Mapping[str, Any] | None,
    correlation_id: str,
    action: str,
    response: JsonDict,
    now: datetime,
) -> TransactionRecord:
    return TransactionRecord(
        correlation_id=correlation_id,
        sender_id=caller.sender_id,
        action=action,
        message_id=_message_id(header),
        transaction_id=str(response.get("transaction_id", "")),
        status="succ",
        request={"header": dict(header or {})},
        created_at=now,
        updated_at=now,
        response=response,
    )


def _job(
    dedupe_key: str,
    correlation_id: str,
    kind: str,
    sender_id: str,
    target_url: str,
    payload: JsonDict,
    now: datetime,
) -> OutboxJob:
    return OutboxJob(
        job_id=str(uuid.uuid4()),
        dedupe_key=dedupe_key,
        correlation_id=correlation_id,
        kind=kind,
        sender_id=sender_id,
        target_url=target_url,
        payload=payload,
        created_at=now,
        next_attempt_at=now,
    )


def _message_id(header: Mapping[str, Any] | None) -> str:
    return str(header.get("message_id", "")) if header else ""


def _reference_ids(message: Mapping[str, Any]) -> tuple[str, ...]:
    refs: list[str] = []
    for value in message.values():
        if isinstance(value, list):
            refs.extend(
                str(item["reference_id"])
                for item in value
                if isinstance(item, Mapping) and isinstance(item.get("reference_id"), str)
            )
        elif isinstance(value, Mapping) and isinstance(value.get("reference_id"), str):
            refs.append(str(value["reference_id"]))
    return tuple(refs)


def _caller_doc(caller: Caller) -> JsonDict:
    """The caller as stored with an async request, so that its callback keeps its read scope."""
    return {
        "sender_id": caller.sender_id,
        "scopes": sorted(caller.scopes),
        "allowed_programmes": _sorted_or_none(caller.allowed_programmes),
        "read_programmes": _sorted_or_none(caller.read.programmes),
        "read_areas": _sorted_or_none(caller.read.areas),
        "purposes": _sorted_or_none(caller.purposes),
    }


def _caller_from_doc(doc: Any, sender_id: str) -> Caller:
    if not isinstance(doc, Mapping):
        # A request accepted before read scopes existed: nothing is visible but what it wrote.
        return Caller(sender_id=sender_id, read=ReadScope(programmes=frozenset()))
    programmes = _set_or_none(doc.get("allowed_programmes"))
    return Caller(
        sender_id=sender_id,
        scopes=frozenset(doc.get("scopes") or ()),
        allowed_programmes=programmes,
        # Stored before read scopes existed: the caller read what it may write.
        read=ReadScope(
            programmes=_set_or_none(doc.get("read_programmes", doc.get("allowed_programmes"))),
            areas=_set_or_none(doc.get("read_areas")),
        ),
        purposes=_set_or_none(doc.get("purposes")),
    )


def _sorted_or_none(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _set_or_none(values: Any) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v) for v in values)


def _txn_type(action: str) -> str | None:
    """The txn_type of a transaction's action; None when txn/status does not report it."""
    return {"search": "search", "subscribe": "subscribe", "enrollment-updates": "receipt"}.get(
        action
    )


# txn_type -> the list of results in its response message (IBR-TXN-002).
_TXN_RESULTS = {
    "search": "search_response",
    "subscribe": "subscribe_response",
    "receipt": "enrolled_response",
}


def _txn_not_found(
    message: Mapping[str, Any],
    request: Mapping[str, Any],
    attribute_type: Any,
    caller: Caller,
    correlation_id: str,
    now: datetime,
) -> TxnNotFoundError:
    """The answer to txn/status of an unknown (or another sender's) transaction, inside DCI's
    schema (IBR-TXN-003): `txn_status` in the asked txn_type's shape with one `rjct` item,
    reason `rjct.reference_id.invalid` (DCI's item list); the same for unknown and foreign."""
    asked = request.get("txn_type")
    txn_type = asked if isinstance(asked, str) and asked in _TXN_RESULTS else "search"
    value = request.get("attribute_value")
    about = value if attribute_type == "transaction_id" and isinstance(value, str) else None
    text = f"no transaction of sender {caller.sender_id!r} matches this {attribute_type}"
    item = {
        "reference_id": str(request.get("reference_id") or "1"),
        "timestamp": format_timestamp(now),
        "status": "rjct",
        "status_reason_code": TxnNotFoundError.item_reason,
        "status_reason_message": text,
    }
    return TxnNotFoundError(
        text,
        field="message.txnstatus_request.attribute_value",
        response={
            "transaction_id": str(message.get("transaction_id", "")),
            "correlation_id": correlation_id,
            "txnstatus_response": {
                "txn_type": txn_type,
                "txn_status": {
                    "transaction_id": about or str(message.get("transaction_id", "")),
                    "correlation_id": correlation_id,
                    _TXN_RESULTS[txn_type]: [item],
                },
            },
        },
    )


def _callback_reason(action: str, exc: Exception) -> str:
    if action == "unsubscribe":
        return "rjct.subscription_code.invalid"
    if action == "subscribe":
        return "rjct.notify_details.invalid"
    return (
        "rjct.search_criteria.invalid"
        if isinstance(exc, RequestError)
        else "rjct.reference_id.invalid"
    )


def _append_record(tx: StoreTransaction, audit: AuditRecord) -> None:
    """Append a read's audit record to the chain inside `tx`."""
    append_audit(
        tx,
        at=audit.at,
        actor=audit.actor,
        action=audit.action,
        subject=audit.subject,
        detail=audit.detail,
    )
