"""The one place where exceptions become HTTP responses.

Every IBR-side operation answers a rejected request with the spec's ERR acknowledgement
(``ibr_protocol.err``): the DCI ``Error.code`` and a message that names the field and the rule.
The OAuth2 token endpoint answers with the RFC 6749 error body instead (``OAuthError``).
Nothing here turns a client mistake into a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ibr_protocol import ErrorCode, IbrProtocolError, SchemaValidationError, err
from ibr_protocol.errors import DCI_ERROR_CODES
from ibr_protocol.limits import RequestRefusedError
from ibr_protocol.tokens import OAuthError
from ibr_service.core.errors import IbrCoreError
from ibr_service.security.errors import HostSecurityError

__all__ = ["OAuthError", "install_error_handlers", "status_for_code"]

_log = logging.getLogger(__name__)

_STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.REQUEST_UNAUTHORIZED: 401,
    ErrorCode.SIGNATURE_MISSING: 401,
    ErrorCode.SIGNATURE_INVALID: 401,
    ErrorCode.REQUEST_FORBIDDEN: 403,
    ErrorCode.SENDER_ID_INVALID: 403,
    ErrorCode.SENDER_URI_INVALID: 403,
    ErrorCode.REQUEST_NOT_FOUND: 404,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.REQUEST_TOO_MANY_REQUESTS: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


_WIRE_CODES = frozenset(code.value for code in DCI_ERROR_CODES)


def status_for_code(code: str) -> int:
    """The HTTP status that goes with a DCI error code (400 when nothing more specific fits)."""
    return _STATUS_BY_CODE.get(code, 400)


def _correlation_id(request: Request) -> str | None:
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) else None


def _err_response(request: Request, code: str, message: str, status: int) -> JSONResponse:
    body = err(code, message, correlation_id=_correlation_id(request))
    return JSONResponse(body, status_code=status)


async def _protocol_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IbrProtocolError)
    if isinstance(exc, HostSecurityError | RequestRefusedError):
        status = exc.http_status
    else:
        status = status_for_code(exc.code)
    if isinstance(exc, SchemaValidationError):
        status = 400
    code = exc.code if exc.code in _WIRE_CODES else ErrorCode.REQUEST_BAD
    _log.info("rejected %s: %s", request.url.path, exc.reason)
    return _err_response(request, code, str(exc), status)


async def _core_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IbrCoreError)
    code = exc.code if exc.code in _WIRE_CODES else ErrorCode.REQUEST_BAD
    return _err_response(request, code, str(exc), status_for_code(code))


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where or 'request'}: {first.get('msg', 'invalid request')}"
    return _err_response(request, ErrorCode.REQUEST_BAD, message, 400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {
        401: ErrorCode.REQUEST_UNAUTHORIZED,
        403: ErrorCode.REQUEST_FORBIDDEN,
        404: ErrorCode.REQUEST_NOT_FOUND,
        429: ErrorCode.REQUEST_TOO_MANY_REQUESTS,
        503: ErrorCode.SERVICE_UNAVAILABLE,
    }.get(exc.status_code, ErrorCode.REQUEST_BAD)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return _err_response(request, code, message, exc.status_code)


async def _oauth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers("ibr"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app`` (the standalone app and any host that mounts the routers)."""
    app.add_exception_handler(IbrProtocolError, _protocol_error)
    app.add_exception_handler(IbrCoreError, _core_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OAuthError, _oauth_error)
