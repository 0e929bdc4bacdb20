"""Building envelopes (`{signature?, header, message}`) in the canonical form.

The builders return plain dicts ready for `json.dumps`; sign them with `sign_envelope`.
Optional fields are omitted, never sent as `""` or `null`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from ibr_protocol.clock import format_timestamp
from ibr_protocol.spec import PROTOCOL_VERSION

CallbackStatus = Literal["rcvd", "pdng", "succ", "rjct"]

_ENCRYPTED_MESSAGE_KEYS = frozenset({"header", "ciphertext", "encrypted_key", "iv", "tag"})


def new_message_id() -> str:
    """A fresh message id (a UUID 4, as we always emit)."""
    return str(uuid.uuid4())


def is_encrypted_message(message: Mapping[str, Any]) -> bool:
    """True when `message` has the shape of an EncryptedMessage."""
    return set(message) >= _ENCRYPTED_MESSAGE_KEYS


def _count_items(message: Mapping[str, Any]) -> int:
    # DCI total_count is the number of requests in the message: the length of its first list
    # (search_request, subscribe_request, ...); a message with no list is one request.
    for value in message.values():
        if isinstance(value, list):
            return len(value)
    return 1


def _header_common(
    *,
    action: str,
    message: Mapping[str, Any],
    sender_id: str,
    receiver_id: str,
    message_id: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    return {
        "version": PROTOCOL_VERSION,
        "message_id": message_id or new_message_id(),
        "message_ts": format_timestamp(now),
        "action": action,
        "sender_id": sender_id,
        "receiver_id": receiver_id,
    }


def build_request(
    *,
    action: str,
    message: Mapping[str, Any],
    sender_id: str,
    receiver_id: str,
    sender_uri: str | None = None,
    total_count: int | None = None,
    meta: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned request envelope: `{"header": <request header>, "message": message}`.

    `total_count` defaults to the length of the message's first list (else 1);
    `is_msg_encrypted` is set from the shape of `message`.
    """
    header = _header_common(
        action=action,
        message=message,
        sender_id=sender_id,
        receiver_id=receiver_id,
        message_id=message_id,
        now=now,
    )
    if sender_uri is not None:
        header["sender_uri"] = sender_uri
    header["total_count"] = _count_items(message) if total_count is None else total_count
    header["is_msg_encrypted"] = is_encrypted_message(message)
    if meta is not None:
        header["meta"] = dict(meta)
    return {"header": header, "message": dict(message)}


def build_callback(
    *,
    action: str,
    message: Mapping[str, Any],
    status: CallbackStatus,
    sender_id: str,
    receiver_id: str,
    status_reason_code: str | None = None,
    status_reason_message: str | None = None,
    total_count: int | None = None,
    completed_count: int | None = None,
    message_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned callback/response envelope with a callback header (`status`, counts, ...)."""
    header = _header_common(
        action=action,
        message=message,
        sender_id=sender_id,
        receiver_id=receiver_id,
        message_id=message_id,
        now=now,
    )
    header["status"] = status
    if status_reason_code is not None:
        header["status_reason_code"] = status_reason_code
    if status_reason_message is not None:
        header["status_reason_message"] = status_reason_message[:999]
    header["total_count"] = _count_items(message) if total_count is None else total_count
    if completed_count is not None:
        header["completed_count"] = completed_count
    header["is_msg_encrypted"] = is_encrypted_message(message)
    if meta is not None:
        header["meta"] = dict(meta)
    return {"header": header, "message": dict(message)}


_REQUEST_SCHEMAS: dict[tuple[str, str], str] = {
    ("search", "search_request"): "api/envelope_search_request",
    ("search", "enrolled_criteria"): "api/envelope_enrolled_request",
    ("notify", "enrolled_updates"): "api/envelope_enrollment_updates_request",
    ("subscribe", "subscribe_request"): "api/envelope_subscribe_request",
    ("unsubscribe", "subscription_codes"): "api/envelope_unsubscribe_request",
    ("txn-status", "txnstatus_request"): "api/envelope_txn_status_request",
}
_CALLBACK_SCHEMAS: dict[tuple[str, str], str] = {
    ("on-search", "search_response"): "api/envelope_search_response",
    ("on-search", "enrolled_response"): "api/envelope_enrolled_response",
    ("notify", "enrolled_response"): "api/envelope_enrollment_updates_response",
    ("notify", "notify_event"): "api/envelope_notify_event_request",
    ("on-subscribe", "subscribe_response"): "api/envelope_subscribe_response",
    ("on-unsubscribe", "subscription_status"): "api/envelope_unsubscribe_response",
    ("on-unsubscribe", "status"): "api/envelope_unsubscribe_response",
    ("txn-on-status", "txnstatus_response"): "api/envelope_txn_status_response",
}
_UNAMBIGUOUS_ACTIONS: dict[tuple[str, bool], str] = {
    ("subscribe", False): "api/envelope_subscribe_request",
    ("unsubscribe", False): "api/envelope_unsubscribe_request",
    ("txn-status", False): "api/envelope_txn_status_request",
    ("on-subscribe", True): "api/envelope_subscribe_response",
    ("on-unsubscribe", True): "api/envelope_unsubscribe_response",
    ("txn-on-status", True): "api/envelope_txn_status_response",
}


def envelope_schema(envelope: Mapping[str, Any]) -> str:
    """The schema an envelope must meet, from its header kind, action and message keys.

    Falls back to the generic `api/envelope` when the operation cannot be told (an encrypted
    `search` could be a search or an enrolled check).
    """
    header = envelope.get("header")
    message = envelope.get("message")
    if not isinstance(header, Mapping) or not isinstance(message, Mapping):
        return "api/envelope"
    action = str(header.get("action", ""))
    is_callback = "status" in header
    table = _CALLBACK_SCHEMAS if is_callback else _REQUEST_SCHEMAS
    for key in message:
        schema = table.get((action, str(key)))
        if schema:
            return schema
    return _UNAMBIGUOUS_ACTIONS.get((action, is_callback), "api/envelope")
