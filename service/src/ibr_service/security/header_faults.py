"""Faults DCI gives their own `Error.code`, reported with that code instead of `err.request.bad`.

The envelope schema catches many of them first (a `version` other than `1.0.0`, a `receiver_id`
longer than any id, a `sender_uri` that is not an http(s) URL, a `signature` that is not a
detached JWS, an `is_msg_encrypted` message that is not an EncryptedMessage). A sender needs
the precise code to know what to fix, and the spec asks for it (IBR-HDR-004, IBR-HDR-005,
IBR-SEC-005, IBR-CB-002, security profile sections 3 and 4); every other schema fault stays
`err.request.bad` (IBR-ENV-004).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ibr_protocol import (
    PROTOCOL_VERSION,
    EncryptionError,
    ErrorCode,
    IbrProtocolError,
    SchemaValidationError,
    SignatureError,
)
from ibr_protocol.errors import SchemaErrorDetail
from ibr_service.security.errors import ForbiddenError, RequestRejectedError

__all__ = ["check_version", "precise_fault"]


def check_version(raw_header: Any) -> None:
    """Refuse a `header.version` we do not speak, before anything reads the message.

    `version` is optional; absent (or `""`, which the compatibility profile reads as absent)
    means the version of this spec.
    """
    if not isinstance(raw_header, Mapping):
        return
    version = raw_header.get("version")
    if version is None or version == "" or version == PROTOCOL_VERSION:
        return
    raise RequestRejectedError(
        f"header.version {str(version)[:40]!r} is not supported; this IBR speaks "
        f"{PROTOCOL_VERSION}",
        field="header.version",
        code=ErrorCode.VERSION_NOT_SUPPORTED,
    )


def _receiver(detail: SchemaErrorDetail) -> IbrProtocolError:
    return RequestRejectedError(
        f"header.receiver_id is not this IBR's id: {detail.message}",
        field="header.receiver_id",
        code=ErrorCode.RECEIVER_ID_INVALID,
    )


def _sender(detail: SchemaErrorDetail) -> IbrProtocolError:
    return ForbiddenError(
        f"header.sender_id cannot be a registered client: {detail.message}",
        code=ErrorCode.SENDER_ID_INVALID,
        field="header.sender_id",
    )


def _sender_uri(detail: SchemaErrorDetail) -> IbrProtocolError:
    return ForbiddenError(
        f"header.sender_uri is not an absolute http(s) URL: {detail.message}",
        code=ErrorCode.SENDER_URI_INVALID,
        field="header.sender_uri",
    )


def _signature(detail: SchemaErrorDetail) -> IbrProtocolError:
    return SignatureError(
        "signature is not a compact JWS with detached payload (<protected>..<signature>)",
        code=ErrorCode.SIGNATURE_INVALID,
        reason=ErrorCode.SIGNATURE_MALFORMED.value,
        field="signature",
    )


def _encrypted(detail: SchemaErrorDetail) -> IbrProtocolError:
    return EncryptionError(
        f"header.is_msg_encrypted is true but message is not a valid EncryptedMessage: "
        f"{detail.path}: {detail.message}",
        field="message",
    )


_PRECISE: tuple[tuple[str, Callable[[SchemaErrorDetail], IbrProtocolError]], ...] = (
    ("/header/receiver_id", _receiver),
    ("/header/sender_id", _sender),
    ("/header/sender_uri", _sender_uri),
    ("/signature", _signature),
)
"""JSON Pointer of the faulty value -> the precise error, in the order they are reported."""


def precise_fault(exc: SchemaValidationError, envelope: Mapping[str, Any]) -> IbrProtocolError:
    """The error to report for a schema fault of ``envelope``: precise when DCI has a code."""
    for pointer, make in _PRECISE:
        for detail in exc.errors:
            if detail.pointer == pointer:
                return make(detail)
    header = envelope.get("header")
    if isinstance(header, Mapping) and header.get("is_msg_encrypted") is True:
        for detail in exc.errors:
            if detail.pointer == "/message" or detail.pointer.startswith("/message/"):
                return _encrypted(detail)
    return exc
