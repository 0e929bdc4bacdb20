"""The callback receiver: the SP-MIS side of the spec (on-search, on-subscribe, on-unsubscribe,
txn/on-status, notify; under ``/registry/`` and, for DCI's IBR scenarios, ``/ibr/``), plus our
token endpoint and JWKS for the IBR.

Each callback passes, in the order of IBR-SEC-009, the first failure being the answer:

    body size (413) -> media type (415) -> JSON depth + parse -> access token + scope (401/403)
    -> sender binding: token client = header.sender_id (403) -> header.version
    -> header.receiver_id -> IBR signature (401) -> message_ts window -> message_id replay
    -> decryption -> schema -> store -> ACK (wake waiting handles and hooks)

An invalid body gets ERR with its DCI code and nothing is stored. The window check is safe for
late retries because the IBR gives every delivery attempt a fresh ``message_id`` and
``message_ts`` (IBR-CB-003); the same ``message_id`` twice is a replay and refused
(IBR-REPLAY-002), remembered in the SQLite store for twice the window so a restart does not
forget it. A callback redelivered under a new header (the IBR retried after a lost ACK: the
same message, or for notify the same ``transaction_id`` and event ``reference_id``) is ACKed
again but stored and handed on once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import ibr_protocol as proto
from ibr_client.callback_auth import (
    TOKEN_PATH,
    TokenEndpoint,
    missing_secret_warning,
    public_jwks,
    token_service,
)
from ibr_client.config import ClientConfig
from ibr_client.envelopes import EnvelopeCodec
from ibr_client.handles import CallbackHub
from ibr_client.operations import CALLBACKS, Callback
from ibr_protocol.limits import (
    RequestRefusedError,
    check_media_type,
    parse_json_limited,
    read_body_limited,
)
from ibr_protocol.tokens import AccessTokenError, TokenService, bearer_token

__all__ = ["create_receiver_app", "status_for_error"]

log = logging.getLogger(__name__)

_STATUS_BY_CODE = {
    proto.ErrorCode.REQUEST_UNAUTHORIZED: 401,
    proto.ErrorCode.SIGNATURE_MISSING: 401,
    proto.ErrorCode.SIGNATURE_INVALID: 401,
    proto.ErrorCode.REQUEST_FORBIDDEN: 403,
    proto.ErrorCode.SENDER_ID_INVALID: 403,
}
_MAX_MESSAGE_ID = 99


def status_for_error(exc: proto.IbrProtocolError) -> int:
    """HTTP status of an ERR: 401 token/signature, 403 scope/sender, 413/415 transport, else 400."""
    if isinstance(exc, RequestRefusedError):
        return exc.http_status
    return _STATUS_BY_CODE.get(exc.code, 400)


@dataclass(frozen=True)
class _Receiver:
    hub: CallbackHub
    codec: EnvelopeCodec
    tokens: TokenService
    ibr_client_id: str
    window_seconds: int
    max_body_bytes: int
    max_json_depth: int


def create_receiver_app(
    hub: CallbackHub,
    codec: EnvelopeCodec,
    config: ClientConfig,
    *,
    trigger: FastAPI | None = None,
) -> FastAPI:
    """The receiver as an ASGI app; ``trigger`` (optional) is mounted under ``/trigger``."""
    tokens = token_service(config)
    receiver = _Receiver(
        hub=hub,
        codec=codec,
        tokens=tokens,
        ibr_client_id=config.effective_ibr_client_id,
        window_seconds=config.callback_window_seconds,
        max_body_bytes=config.max_body_bytes,
        max_json_depth=config.max_json_depth,
    )
    warning = missing_secret_warning(config)
    if warning is not None:
        log.error(warning)
    app = FastAPI(title="IBR reference SP-MIS receiver", docs_url=None, redoc_url=None)
    for callback in CALLBACKS.values():
        for path in callback.paths:
            app.add_api_route(
                path,
                _endpoint(receiver, callback),
                methods=["POST"],
                name=f"{callback.action} {path}",
                summary=f"Receive {callback.action} from the IBR",
            )
    app.add_api_route(TOKEN_PATH, TokenEndpoint(config, tokens), methods=["POST"], name="token")
    jwks = public_jwks(config)

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    def keys() -> dict[str, Any]:
        return jwks

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if trigger is not None:
        app.mount("/trigger", trigger)
    return app


def _endpoint(receiver: _Receiver, callback: Callback) -> Any:
    # The checks run in a worker thread, so signature checks, key fetches and SQLite writes
    # never block the event loop.
    async def endpoint(request: Request) -> JSONResponse:
        try:
            body = await read_body_limited(
                request.headers.get("content-length"), request.stream(), receiver.max_body_bytes
            )
            check_media_type(request.headers.get("content-type"))
            raw = parse_json_limited(body, max_depth=receiver.max_json_depth)
        except RequestRefusedError as exc:
            return _refusal(exc, callback, None)
        return await run_in_threadpool(
            _handle_callback, receiver, callback, raw, request.headers.get("authorization")
        )

    endpoint.__name__ = f"receive_{callback.action.replace('-', '_')}"
    return endpoint


def _handle_callback(
    receiver: _Receiver, callback: Callback, raw: Any, authorization: str | None
) -> JSONResponse:
    """Check, store and acknowledge one parsed callback body."""
    now = datetime.now(UTC)
    correlation_id = _correlation_id(raw) if isinstance(raw, dict) else None
    try:
        if not isinstance(raw, dict):
            raise RequestRefusedError("the body is not a JSON object (an envelope)", field="body")
        callback = _dispatched(raw, callback)
        access = receiver.tokens.validate(bearer_token(authorization), now=now)
        if access.client_id != receiver.ibr_client_id:
            raise AccessTokenError(f"the token's client {access.client_id!r} is not the IBR")
        access.require_scope(callback.scope)
        envelope = proto.normalise_envelope(raw)
        header = envelope.get("header")
        if not isinstance(header, dict):
            raise RequestRefusedError("header must be a JSON object", field="header")
        _check_header(header, token_client=access.client_id, our_id=receiver.codec.sender_id)
        signed_by = receiver.codec.verify(envelope)
        # After the signature (a forger cannot make us log a bogus time or fill the replay memory).
        proto.check_message_ts(
            str(header.get("message_ts", "")), now=now, window_seconds=receiver.window_seconds
        )
        proto.check_not_replayed(
            receiver.hub.store,
            str(header["sender_id"]),
            str(header["message_id"]),
            now + timedelta(seconds=2 * receiver.window_seconds),
        )
        if _nothing_to_apply(envelope):
            # Every event had no record (C-NOTIFY-NO-RECORDS, DEV-API-10): checked, ACKed,
            # logged, nothing stored or handed to the programme.
            log.info("notify %s had no event to act on; nothing applied", header["message_id"])
            return JSONResponse(proto.ack(correlation_id or str(header["message_id"])))
        opened = receiver.codec.read_verified(
            envelope, callback.message_schema, signed_by=signed_by
        )
    except proto.IbrProtocolError as exc:
        return _refusal(exc, callback, correlation_id)
    stored = receiver.hub.store.record_callback(callback.action, opened.header, opened.message)
    if stored is not None:
        receiver.hub.publish(stored)
    return JSONResponse(proto.ack(correlation_id or str(opened.header["message_id"])))


def _nothing_to_apply(envelope: dict[str, Any]) -> bool:
    header = envelope.get("header")
    message = envelope.get("message")
    return (
        isinstance(header, dict)
        and header.get("action") == "notify"
        and not header.get("is_msg_encrypted")
        and isinstance(message, dict)
        and message.get("notify_event") == []
    )


def _dispatched(raw: dict[str, Any], by_path: Callback) -> Callback:
    # Dispatch on header.action, not on the path: an IBR may POST every callback of a
    # subscription (on-subscribe and later notify) to the one sender_uri it was given.
    header = raw.get("header")
    action = header.get("action") if isinstance(header, dict) else None
    return CALLBACKS[action] if isinstance(action, str) and action in CALLBACKS else by_path


def _check_header(header: dict[str, Any], *, token_client: str, our_id: str) -> None:
    if header.get("sender_id") != token_client:
        raise RequestRefusedError(
            f"header.sender_id {header.get('sender_id')!r} is not the client of the access "
            f"token ({token_client!r})",
            http_status=403,
            code=proto.ErrorCode.SENDER_ID_INVALID,
            field="header.sender_id",
        )
    version = header.get("version")
    if version not in (None, "", proto.PROTOCOL_VERSION):
        raise RequestRefusedError(
            f"header.version {str(version)[:40]!r} is not supported; this SP-MIS speaks "
            f"{proto.PROTOCOL_VERSION}",
            code=proto.ErrorCode.VERSION_NOT_SUPPORTED,
            field="header.version",
        )
    receiver_id = header.get("receiver_id")
    if receiver_id is not None and receiver_id != our_id:
        raise RequestRefusedError(
            f"header.receiver_id {str(receiver_id)[:100]!r} is not this SP-MIS ({our_id!r})",
            code=proto.ErrorCode.RECEIVER_ID_INVALID,
            field="header.receiver_id",
        )
    message_id = header.get("message_id")
    # The replay memory stores it, so it must be storable; its full rule is the schema's.
    if not isinstance(message_id, str) or not 0 < len(message_id) <= _MAX_MESSAGE_ID:
        raise RequestRefusedError(
            f"header.message_id must be a string of 1 to {_MAX_MESSAGE_ID} characters",
            field="header.message_id",
        )


def _refusal(
    exc: proto.IbrProtocolError, callback: Callback, correlation_id: str | None
) -> JSONResponse:
    log.info("rejected %s: %s", callback.path, exc.reason)
    status = status_for_error(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AccessTokenError) else None
    code = exc.code if exc.code in proto.DCI_ERROR_CODES else proto.ErrorCode.REQUEST_BAD
    body = proto.err(code, _public_message(exc), correlation_id=correlation_id)
    return JSONResponse(body, status_code=status, headers=headers)


def _public_message(exc: proto.IbrProtocolError) -> str:
    """The ERR message: where and which rule, never the offending value (IBR-ERR-003), since
    a callback's values are personal data (names, identifiers, birth dates)."""
    where = f" (field {exc.field})" if exc.field else ""
    if isinstance(exc, proto.SchemaValidationError):
        rules = "; ".join(f"{e.path} breaks '{e.keyword}'" for e in exc.errors[:5])
        more = f" (+{len(exc.errors) - 5} more)" if len(exc.errors) > 5 else ""
        return f"{exc.reason}{where}: does not match schema {exc.schema}: {rules}{more}"
    if isinstance(exc, proto.NormalisationError):
        rule = f" (rule {exc.rule})" if exc.rule else ""
        return f"{exc.reason}{where}: the value has no canonical form{rule}"
    return str(exc)


def _correlation_id(raw: dict[str, Any]) -> str | None:
    message = raw.get("message")
    if isinstance(message, dict):
        value = message.get("correlation_id") or message.get("transaction_id")
        if isinstance(value, str) and value:
            return value
    header = raw.get("header")
    if isinstance(header, dict) and isinstance(header.get("message_id"), str):
        return str(header["message_id"]) or None
    return None
