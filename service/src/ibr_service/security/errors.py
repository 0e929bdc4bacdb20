"""Errors raised by the host's security checks.

    ibr_protocol.IbrProtocolError   (base: `.code` DCI wire code, `.reason`, `.field`)
    └── HostSecurityError           adds `.http_status`
        ├── AuthenticationError     bearer token or client credentials missing, forged, expired
        ├── ForbiddenError          authenticated, but not allowed (scope, programme, callback)
        └── RequestRejectedError    the request itself breaks a host rule (size, depth, syntax)

Subclassing the protocol base lets one mapping (``ibr_service.api.errors``) turn every error into
the spec's ERR acknowledgement with ``ibr_protocol.ack_for_error``.
"""

from __future__ import annotations

from ibr_protocol.errors import ErrorCode, IbrProtocolError

__all__ = [
    "AuthenticationError",
    "ForbiddenError",
    "HostSecurityError",
    "RequestRejectedError",
]


class HostSecurityError(IbrProtocolError):
    """A request failed a host security rule."""

    http_status = 400


class AuthenticationError(HostSecurityError):
    """Who is calling could not be established (401)."""

    default_code = ErrorCode.REQUEST_UNAUTHORIZED
    http_status = 401

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason, field="Authorization")


class ForbiddenError(HostSecurityError):
    """The caller is known but may not do this (403)."""

    default_code = ErrorCode.REQUEST_FORBIDDEN
    http_status = 403


class RequestRejectedError(HostSecurityError):
    """The request breaks a transport or header rule: 400, or the given status (413, 415).

    ``code`` is ``err.request.bad`` unless DCI has a precise code for the fault
    (``err.receiver_id.invalid``, ``err.version.not_supported``).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        http_status: int = 400,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message, code=code, reason=reason, field=field)
        self.http_status = http_status
