"""Outbound envelopes: the signed response of a sync operation, the ACK of an async one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from ibr_protocol import ack, build_callback, encrypt_message, sign_envelope
from ibr_protocol.envelope import CallbackStatus
from ibr_service.security.inbound import InboundRequest
from ibr_service.security.keys import IbrKeys

__all__ = ["acknowledge", "signed_response"]


def signed_response(
    inbound: InboundRequest,
    message: dict[str, Any],
    *,
    keys: IbrKeys,
    receiver_id: str,
    now: datetime,
    status: CallbackStatus = "succ",
    status_reason_code: str | None = None,
    status_reason_message: str | None = None,
) -> JSONResponse:
    """The sync response: callback header (``succ``) + ``message``, signed with the IBR key.

    A request answered but rejected as a whole (e.g. txn/status of an unknown transaction) is
    ``status="rjct"`` with a header status reason code; it is still HTTP 200.
    An encrypted request gets an encrypted answer when the client registered an encryption key
    (``use: enc``); the signature then covers the EncryptedMessage (encrypt-then-sign).
    """
    action = inbound.operation.response_action
    assert action is not None, f"{inbound.operation.path} is not a sync operation"
    completed = _completed_count(message)
    recipient = _encryption_key(inbound) if inbound.was_encrypted else None
    body = encrypt_message(message, recipient) if recipient is not None else message
    envelope = build_callback(
        action=action,
        message=body,
        status=status,
        sender_id=receiver_id,
        status_reason_code=status_reason_code,
        status_reason_message=status_reason_message,
        receiver_id=inbound.caller.sender_id,
        total_count=inbound.header.get("total_count"),
        completed_count=completed,
        now=now,
    )
    return JSONResponse(sign_envelope(envelope, keys.signing_key))


def acknowledge(correlation_id: str, *, now: datetime) -> JSONResponse:
    """The ACK of an accepted asynchronous request; the result follows by callback."""
    return JSONResponse(ack(correlation_id, now=now))


def _encryption_key(inbound: InboundRequest) -> dict[str, Any] | None:
    keys = inbound.client.public_jwks.get("keys", [])
    return next((dict(key) for key in keys if key.get("use") == "enc"), None)


def _completed_count(message: dict[str, Any]) -> int | None:
    # The number of items answered: the length of the message's first list.
    for value in message.values():
        if isinstance(value, list):
            return len(value)
    return None
