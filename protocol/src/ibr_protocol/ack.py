"""The synchronous acknowledgement body (`ACK`, `NACK`, `ERR`) every endpoint answers with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ibr_protocol.clock import format_timestamp
from ibr_protocol.errors import DCI_ERROR_CODES, ErrorCode, IbrProtocolError

MAX_ERROR_MESSAGE = 999
"""DCI `Error.message` maxLength."""

MAX_CORRELATION_ID = 99
"""`correlation_id` maxLength (schemas/api/common)."""


def _body(status: str, correlation_id: str, now: datetime | None) -> dict[str, Any]:
    return {
        "message": {
            "ack_status": status,
            "timestamp": format_timestamp(now),
            "correlation_id": correlation_id,
        }
    }


def ack(correlation_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """ACK: the request passed the basic checks; the answer comes by callback."""
    return _body("ACK", correlation_id, now)


def nack(correlation_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """NACK: the request passed the basic checks; no callback will follow."""
    return _body("NACK", correlation_id, now)


def err(
    code: ErrorCode | str,
    message: str,
    *,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """ERR with `error: {code, message}`; `code` must be a DCI `Error.code`.

    Without a usable correlation id (the request could not be read far enough, or the id it
    carries breaks the ACK schema's length) a fresh one is made, because the ACK requires one.
    """
    wire_code = ErrorCode(code)
    if wire_code not in DCI_ERROR_CODES:
        allowed = ", ".join(sorted(DCI_ERROR_CODES))
        raise ValueError(f"{wire_code} is not a DCI Error.code; use one of: {allowed}")
    if not correlation_id or len(correlation_id) > MAX_CORRELATION_ID:
        correlation_id = str(uuid.uuid4())
    body = _body("ERR", correlation_id, now)
    body["message"]["error"] = {
        "code": wire_code.value,
        "message": message[:MAX_ERROR_MESSAGE] or wire_code.value,
    }
    return body


def ack_for_error(
    exc: IbrProtocolError,
    *,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ERR acknowledgement for a protocol error: its DCI code, its reason and field."""
    code = exc.code if exc.code in DCI_ERROR_CODES else ErrorCode.REQUEST_BAD
    return err(code, str(exc), correlation_id=correlation_id, now=now)
