"""Subscribe, unsubscribe, and matching enrolment events to subscriptions (notify).

Where notify goes (spec/openapi.yaml webhook `notify`, IBR-NOTIFY-001, DEV-API-22): the
subscriber's callback base URL + `/registry/notify`. The base is the subscribe request's
`sender_uri` without its SP-MIS path `/registry/on-subscribe`; a `sender_uri` that does not end
in that path is DCI's generic "sender url to accept callbacks" and receives notify as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ibr_protocol import IbrProtocolError, parse_timestamp
from ibr_service.core.caller import Caller, ReadScope
from ibr_service.core.errors import QueryError
from ibr_service.core.matching import matches
from ibr_service.core.query import Expr, parse_query
from ibr_service.core.records import (
    ApplyOutcome,
    EnrolmentUpdate,
    JsonDict,
    StoredBeneficiary,
    SubjectRecord,
    SubscriptionRecord,
)
from ibr_service.core.store import StoreTransaction
from ibr_service.core.views import beneficiary_record

__all__ = [
    "EVENT_ENROLMENT",
    "EVENT_STATUS_CHANGE",
    "NOTIFY_PATH",
    "ON_SUBSCRIBE_PATH",
    "event_type",
    "in_frequency_window",
    "matching_notifications",
    "notify_message",
    "notify_target",
    "subscribe_item",
    "unsubscribe",
]

EVENT_ENROLMENT = "enrollement"
EVENT_STATUS_CHANGE = "enrollement_status_change"
"""The DCI `reg_event_type` values, spelled as DCI spells them."""

_EVENT_SPELLINGS = {
    "enrollement": EVENT_ENROLMENT,
    "enrollment": EVENT_ENROLMENT,
    "enrolment": EVENT_ENROLMENT,
    "enrollement_status_change": EVENT_STATUS_CHANGE,
    "enrollment_status_change": EVENT_STATUS_CHANGE,
    "enrolment_status_change": EVENT_STATUS_CHANGE,
}


ON_SUBSCRIBE_PATH = "/registry/on-subscribe"
NOTIFY_PATH = "/registry/notify"
"""The SP-MIS paths of spec/openapi.yaml (operations post_reg_on-subscribe, post_reg_notify)."""


def notify_target(sender_uri: str) -> str:
    """The URL notify is POSTed to for a subscription made with header `sender_uri`."""
    base, found, rest = sender_uri.rstrip("/").rpartition(ON_SUBSCRIBE_PATH)
    if found and not rest:
        return base + NOTIFY_PATH
    return sender_uri


def event_type(raw: Any) -> str | None:
    """The canonical event type of a client spelling (prefix `ns:...:` allowed), else None."""
    if not isinstance(raw, str):
        return None
    return _EVENT_SPELLINGS.get(raw.rsplit(":", 1)[-1].strip().lower())


def parse_filter(filter_type: Any, filter_value: Any, *, field: str) -> Expr:
    """The AST of a subscription filter (same query forms as search)."""
    try:
        return parse_query(str(filter_type or "expression"), filter_value, field=field)
    except QueryError as exc:
        raise QueryError(
            exc.message, field=exc.field, reason="rjct.notify_details.invalid"
        ) from None


def subscribe_item(
    tx: StoreTransaction,
    raw: Any,
    *,
    index: int,
    sender_id: str,
    callback_uri: str,
    now: datetime,
    now_text: str,
) -> JsonDict:
    """Register one `subscribe_request` item; a bad item gives `rjct` with its reason code."""
    field = f"message.subscribe_request[{index}]"
    reference_id = (
        str(raw["reference_id"])
        if isinstance(raw, Mapping) and isinstance(raw.get("reference_id"), str)
        else str(index + 1)
    )
    criteria = raw.get("subscribe_criteria") if isinstance(raw, Mapping) else None
    if not isinstance(criteria, Mapping):
        return _rejected(
            reference_id,
            now_text,
            "rjct.notify_details.invalid",
            f"{field}.subscribe_criteria: required",
        )
    event = event_type(criteria.get("reg_event_type"))
    if event is None:
        return _rejected(
            reference_id,
            now_text,
            "rjct.notify_types.invalid",
            f"{field}.subscribe_criteria.reg_event_type: use {EVENT_ENROLMENT} or "
            f"{EVENT_STATUS_CHANGE}",
        )
    filter_doc: JsonDict = {
        "filter_type": criteria.get("filter_type") or "expression",
        "filter": criteria.get("filter"),
    }
    frequency = criteria.get("frequency")
    if frequency is not None:
        problem = _frequency_problem(frequency)
        if problem is not None:
            return _rejected(
                reference_id,
                now_text,
                "rjct.notify_details.invalid",
                f"{field}.subscribe_criteria.frequency{problem}",
            )
        # Kept with the filter (same stored document) so that the same filter with another
        # window is a different subscription.
        filter_doc["frequency"] = dict(frequency)
    try:
        parse_filter(
            filter_doc["filter_type"],
            filter_doc["filter"],
            field=f"{field}.subscribe_criteria.filter",
        )
    except QueryError as exc:
        return _rejected(reference_id, now_text, exc.reason, f"{exc.field}: {exc.message}")
    for existing in tx.active_subscriptions(event):
        if existing.sender_id == sender_id and existing.filter == filter_doc:
            return _rejected(
                reference_id,
                now_text,
                "rjct.event.already_subscribed",
                f"{field}: same event and filter as subscription {existing.code}",
            )
    subscription = SubscriptionRecord(
        code=str(uuid.uuid4()),
        sender_id=sender_id,
        callback_uri=callback_uri,
        reg_event_type=event,
        filter=filter_doc,
        notify_record_type=str(criteria.get("notify_record_type") or "Beneficiary"),
        status="subscribe",
        created_at=now,
    )
    tx.add_subscription(subscription)
    return {
        "reference_id": reference_id,
        "timestamp": now_text,
        "status": "succ",
        "subscriptions": [subscription_info(subscription, now_text)],
    }


def subscription_info(subscription: SubscriptionRecord, now_text: str) -> JsonDict:
    """The DCI `SubscriptionInfo` of a stored subscription."""
    info: JsonDict = {
        "code": subscription.code,
        "status": subscription.status,
        "timestamp": now_text,
        "reg_event_type": subscription.reg_event_type,
        "filter_type": subscription.filter["filter_type"],
        "filter": subscription.filter["filter"],
        "notify_record_type": subscription.notify_record_type,
    }
    if "frequency" in subscription.filter:
        info["frequency"] = subscription.filter["frequency"]
    return info


def unsubscribe(
    tx: StoreTransaction, message: Mapping[str, Any], *, sender_id: str, now_text: str
) -> JsonDict:
    """Process an `UnSubscribeRequest`; unknown or foreign codes are reported, not raised."""
    codes = message.get("subscription_codes")
    statuses: list[JsonDict] = []
    problem: tuple[str, str] | None = None
    if not isinstance(codes, list) or not codes:
        problem = (
            "rjct.subscription_code.invalid",
            "message.subscription_codes: a non-empty list is required",
        )
        codes = []
    for i, code in enumerate(codes):
        found = tx.get_subscription(code) if isinstance(code, str) else None
        if found is None or found.sender_id != sender_id:
            problem = problem or (
                "rjct.subscription_code.invalid",
                f"message.subscription_codes[{i}]: "
                f"no subscription {str(code)[:99]!r} of this sender",
            )
            continue
        if found.status == "unsubscribe":
            problem = problem or (
                "rjct.event.already_unsubscribed",
                f"message.subscription_codes[{i}]: already unsubscribed",
            )
            continue
        tx.set_subscription_status(found.code, "unsubscribe")
        statuses.append({"code": found.code, "status": "unsubscribe"})
    out: JsonDict = {"timestamp": now_text, "status": "rjct" if problem else "succ"}
    if problem:
        out["status_reason_code"], out["status_reason_message"] = problem
    out["subscription_status"] = statuses
    return out


def matching_notifications(
    tx: StoreTransaction,
    updates: Sequence[tuple[EnrolmentUpdate, ApplyOutcome]],
    *,
    deaths: Sequence[SubjectRecord] = (),
    now: datetime,
) -> dict[str, tuple[SubscriptionRecord, list[JsonDict]]]:
    """For every subscription matched by at least one event: the Beneficiary records to notify.

    A created enrolment is an `enrollement` event; a changed status (also on creation) is an
    `enrollement_status_change` event. A death is a person-level event: each enrolment the
    deceased person holds in any programme is an `enrollement_status_change` event, so the
    subscribers of every programme learn of it, whoever reported it. Unchanged and stale items
    raise no event. A subscriber only receives events on enrolments inside its read scope
    (IBR-SUB-004). A subscription with a `frequency` only gets the events recorded between its
    `start_time` and `end_time`.
    """
    events: dict[str, list[EnrolmentUpdate]] = {EVENT_ENROLMENT: [], EVENT_STATUS_CHANGE: []}
    for update, outcome in updates:
        if outcome.result == "created":
            events[EVENT_ENROLMENT].append(update)
        if outcome.result in ("created", "updated") and (
            outcome.previous_status != outcome.new_status
        ):
            events[EVENT_STATUS_CHANGE].append(update)
    events[EVENT_STATUS_CHANGE].extend(_death_events(tx, deaths, events[EVENT_STATUS_CHANGE]))
    found: dict[str, tuple[SubscriptionRecord, list[JsonDict]]] = {}
    scopes: dict[str, ReadScope | None] = {}
    for event, event_updates in events.items():
        if not event_updates:
            continue
        for subscription in tx.active_subscriptions(event):
            if not in_frequency_window(subscription, now):
                continue
            read = _read_scope(tx, subscription.sender_id, scopes)
            if read is None:
                continue
            try:
                expr = parse_filter(
                    subscription.filter.get("filter_type"),
                    subscription.filter.get("filter"),
                    field="filter",
                )
            except QueryError:
                # validated at subscribe time; a later whitelist change must not break ingest
                continue
            records = [_record(u) for u in event_updates if _visible(u, read) and matches(expr, u)]
            if records:
                found.setdefault(subscription.code, (subscription, []))[1].extend(records)
    return found


def _death_events(
    tx: StoreTransaction, deaths: Sequence[SubjectRecord], already: Sequence[EnrolmentUpdate]
) -> list[EnrolmentUpdate]:
    """One status-change event per enrolment a newly deceased person holds (not yet an event)."""
    if not deaths:
        return []
    seen = {u.enrolment.enrolment_key for u in already}
    by_key = {s.subject_key: s for s in deaths}
    out = []
    for stored in tx.load_beneficiaries(list(by_key)):
        subject = by_key[stored.subject.subject_key]
        for enrolment, programme, benefits in stored.enrolments:
            if enrolment.enrolment_key not in seen:
                out.append(EnrolmentUpdate(subject, (), programme, enrolment, benefits))
    return out


def _read_scope(
    tx: StoreTransaction, sender_id: str, cache: dict[str, ReadScope | None]
) -> ReadScope | None:
    """The subscriber's read scope; None when it is no longer an active client."""
    if sender_id not in cache:
        client = tx.get_client(sender_id)
        cache[sender_id] = (
            Caller.from_client(client).read if client is not None and client.active else None
        )
    return cache[sender_id]


def _visible(update: EnrolmentUpdate, read: ReadScope) -> bool:
    if not read.sees_programme(update.enrolment.programme_identifier):
        return False
    if read.areas is None:
        return True
    subject = update.subject
    return bool({subject.area_code, *subject.area_levels} & read.areas)


def notify_message(
    subscription: SubscriptionRecord,
    records: Sequence[JsonDict],
    *,
    transaction_id: str,
    now_text: str,
) -> JsonDict:
    """The `notify_event_request` message of one subscription: one event per record."""
    return {
        "transaction_id": transaction_id,
        "notify_event": [
            {
                "reference_id": f"{subscription.code}:{i + 1}",
                "timestamp": now_text,
                "subscription_code": subscription.code,
                "data": {
                    "version": "1.0.0",
                    "reg_event_type": subscription.reg_event_type,
                    "reg_record_type": subscription.notify_record_type,
                    "reg_records": [record],
                },
            }
            for i, record in enumerate(records)
        ],
    }


def in_frequency_window(subscription: SubscriptionRecord, at: datetime) -> bool:
    """False when the subscription has a `frequency` whose [start_time, end_time] excludes `at`."""
    frequency = subscription.filter.get("frequency")
    if not isinstance(frequency, Mapping):
        return True
    start = parse_timestamp(str(frequency["start_time"]), field="frequency.start_time")
    end = parse_timestamp(str(frequency["end_time"]), field="frequency.end_time")
    return start <= at <= end


def _frequency_problem(frequency: Any) -> str | None:
    if not isinstance(frequency, Mapping):
        return ": must be an object with start_time, end_time and frequency"
    bounds: list[datetime] = []
    for name in ("start_time", "end_time"):
        value = frequency.get(name)
        try:
            bounds.append(parse_timestamp(str(value), field=name))
        except IbrProtocolError:
            return f".{name}: must be an RFC 3339 date-time with a zone"
    if bounds[1] < bounds[0]:
        return ".end_time: must not be before start_time"
    if not isinstance(frequency.get("frequency"), str):
        return ".frequency: a cron expression (string) is required"
    return None


def _record(update: EnrolmentUpdate) -> JsonDict:
    stored = StoredBeneficiary(
        update.subject, ((update.enrolment, update.programme, update.benefits),)
    )
    return beneficiary_record(stored)


def _rejected(reference_id: str, now_text: str, reason: str, message: str) -> JsonDict:
    return {
        "reference_id": reference_id,
        "timestamp": now_text,
        "status": "rjct",
        "status_reason_code": reason,
        "status_reason_message": message[:999],
    }
