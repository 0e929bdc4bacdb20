"""The one place where exceptions become HTTP responses (the error boundary).

Every IBR-side operation answers a rejected request with the spec's ERR acknowledgement
(``ibr_protocol.err``): the DCI ``Error.code`` and a message that names the field and the rule
(``ibr_service.security.public_errors``, IBR-ERR-003). The OAuth2 token endpoint answers every
failure, whatever raised it, with an RFC 6749 error body. An exception nobody expected is a 500
whose body says nothing of it; its traceback goes to the log. Every refusal is logged as one JSON
line and counted (``ibr_service.metrics.log_refusal``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ibr_protocol import ErrorCode, IbrProtocolError, err
from ibr_protocol.tokens import NO_STORE_HEADERS, OAuthError
from ibr_service.api.middleware import operation_label
from ibr_service.core.errors import IbrCoreError
from ibr_service.metrics import log_refusal
from ibr_service.security.public_errors import (
    INTERNAL_ERROR_MESSAGE,
    http_status,
    public_message,
    status_for_code,
    wire_code,
)

__all__ = ["OAuthError", "install_error_handlers", "status_for_code"]

_log = logging.getLogger(__name__)

TOKEN_PATH_SUFFIX = "/oauth2/client/token"  # noqa: S105 - a path, not a secret

_CODE_BY_STATUS = {
    401: ErrorCode.REQUEST_UNAUTHORIZED,
    403: ErrorCode.REQUEST_FORBIDDEN,
    404: ErrorCode.REQUEST_NOT_FOUND,
    429: ErrorCode.REQUEST_TOO_MANY_REQUESTS,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

_OAUTH_ERROR_BY_STATUS = {401: "invalid_client"}
"""RFC 6749 section 5.2 names for failures raised outside the token endpoint's own checks."""
_OAUTH_STATUSES = frozenset({400, 401, 413, 415})
"""Statuses the token endpoint answers in RFC 6749's format; 429 is an ERR and 500 an
http_error_response there too (spec/openapi.yaml)."""


def _is_token_endpoint(request: Request) -> bool:
    return request.url.path.endswith(TOKEN_PATH_SUFFIX)


def _state(request: Request, name: str) -> str | None:
    value = getattr(request.state, name, None)
    return value if isinstance(value, str) else None


def _answer(
    request: Request,
    *,
    code: str,
    reason: str,
    message: str,
    status: int,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    log_refusal(
        operation=operation_label(request.scope),
        code=code,
        reason=reason,
        status=status,
        sender_id=_state(request, "sender_id") or _state(request, "claimed_sender_id"),
        message_id=_state(request, "message_id"),
        field=field,
    )
    if _is_token_endpoint(request) and status in _OAUTH_STATUSES:
        error = _OAUTH_ERROR_BY_STATUS.get(status, "invalid_request")
        return _oauth_json(error, message, status, headers)
    body = err(code, message, correlation_id=_state(request, "correlation_id"))
    return JSONResponse(body, status_code=status, headers=headers)


def _oauth_json(
    error: str, description: str, status: int, headers: dict[str, str] | None
) -> JSONResponse:
    extra = {"WWW-Authenticate": 'Basic realm="ibr"'} if status == 401 else {}
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**NO_STORE_HEADERS, **extra, **(headers or {})},
    )


async def _known_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IbrProtocolError | IbrCoreError)
    headers = getattr(exc, "headers", None)
    return _answer(
        request,
        code=wire_code(exc),
        reason=exc.reason,
        message=public_message(exc),
        status=http_status(exc),
        field=exc.field,
        headers=headers if isinstance(headers, dict) else None,
    )


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return _answer(
        request,
        code=ErrorCode.REQUEST_BAD.value,
        reason=ErrorCode.REQUEST_BAD.value,
        message=f"{where or 'request'}: breaks '{first.get('type', 'the request rules')}'",
        status=400,
        field=where or None,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.REQUEST_BAD).value
    # A 405 names the methods the path takes (RFC 9110 section 15.5.6): Allow is kept.
    return _answer(
        request,
        code=code,
        reason=code,
        message=f"{request.method} {request.url.path[:200]}: {exc.detail}",
        status=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _oauth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    log_refusal(
        operation=operation_label(request.scope),
        code=exc.error,
        reason=exc.error,
        status=exc.status_code,
    )
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers("ibr"))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The body is spec/openapi.yaml's InternalError (api/http_error_response), on every route.
    _log.error("unexpected error on %s", operation_label(request.scope), exc_info=exc)
    log_refusal(
        operation=operation_label(request.scope),
        code="err.internal",
        reason=type(exc).__name__,
        status=500,
        sender_id=_state(request, "sender_id"),
        message_id=_state(request, "message_id"),
    )
    body = {"errors": [{"code": "err.internal", "message": INTERNAL_ERROR_MESSAGE}]}
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app`` (the standalone app and any host that mounts the routers)."""
    app.add_exception_handler(IbrProtocolError, _known_error)
    app.add_exception_handler(IbrCoreError, _known_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(Exception, _unexpected_error)
