"""The callback receiver: the SP-MIS side of the spec (on-search, on-subscribe, on-unsubscribe,
txn/on-status, notify).

For each body: normalise DCI variants, verify the IBR's signature, check ``header.message_ts``
against our clock (security profile §5: ±300 s by default), decrypt, validate against spec/,
store durably, then ACK and wake the waiting handles and hooks. An invalid body gets ERR with its
DCI code and nothing is stored. The window check is safe for late retries because the IBR gives
every delivery attempt a fresh ``message_id`` and ``message_ts`` (IBR-CB-003). A callback
delivered twice (the IBR retried after a lost ACK: the same message under a new header, or for
notify the same ``transaction_id`` and event ``reference_id``) is ACKed again but stored and
handed on once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import ibr_protocol as proto
from ibr_client.envelopes import EnvelopeCodec
from ibr_client.handles import CallbackHub
from ibr_client.operations import CALLBACKS, Callback
from ibr_protocol.clock import DEFAULT_WINDOW_SECONDS

__all__ = ["create_receiver_app", "status_for_error"]

log = logging.getLogger(__name__)

_UNAUTHENTICATED = frozenset({proto.ErrorCode.SIGNATURE_MISSING, proto.ErrorCode.SIGNATURE_INVALID})


def status_for_error(exc: proto.IbrProtocolError) -> int:
    """HTTP status of an ERR: 401 for signature problems, 400 for anything else in the body."""
    return 401 if exc.code in _UNAUTHENTICATED else 400


def create_receiver_app(
    hub: CallbackHub,
    codec: EnvelopeCodec,
    *,
    trigger: FastAPI | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> FastAPI:
    """The receiver as an ASGI app; ``trigger`` (optional) is mounted under ``/trigger``."""
    app = FastAPI(title="IBR reference SP-MIS receiver", docs_url=None, redoc_url=None)

    for callback in CALLBACKS.values():
        app.add_api_route(
            callback.path,
            _endpoint(hub, codec, callback, window_seconds),
            methods=["POST"],
            name=callback.action,
            summary=f"Receive {callback.action} from the IBR",
        )

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if trigger is not None:
        app.mount("/trigger", trigger)
    return app


def _endpoint(
    hub: CallbackHub, codec: EnvelopeCodec, callback: Callback, window_seconds: int
) -> Any:
    # The checks run in a worker thread, so signature checks, key fetches and SQLite writes
    # never block the event loop.
    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        return await run_in_threadpool(
            handle_callback, hub, codec, callback, body, window_seconds=window_seconds
        )

    endpoint.__name__ = f"receive_{callback.action.replace('-', '_')}"
    return endpoint


def handle_callback(
    hub: CallbackHub,
    codec: EnvelopeCodec,
    callback: Callback,
    body: bytes,
    *,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> JSONResponse:
    """Check, store and acknowledge one callback body (the whole receiver logic)."""
    try:
        raw = json.loads(body)
    except ValueError:
        return _err(proto.ErrorCode.REQUEST_BAD, "the body is not JSON", None, 400)
    if not isinstance(raw, dict):
        return _err(proto.ErrorCode.REQUEST_BAD, "the body is not a JSON object", None, 400)
    correlation_id = _correlation_id(raw)
    # Dispatch on header.action, not on the path: an IBR may POST every callback of a
    # subscription (on-subscribe and later notify) to the one sender_uri it was given.
    header = raw.get("header")
    action = header.get("action") if isinstance(header, dict) else None
    if isinstance(action, str) and action in CALLBACKS:
        callback = CALLBACKS[action]
    try:
        opened = codec.open(raw, callback.message_schema)
        # After the signature (a forger cannot make us log a bogus time), before storing.
        proto.check_message_ts(
            str(opened.header.get("message_ts", "")), window_seconds=window_seconds
        )
    except proto.IbrProtocolError as exc:
        log.info("rejected %s: %s", callback.path, exc.reason)
        body_err = proto.ack_for_error(exc, correlation_id=correlation_id)
        return JSONResponse(body_err, status_code=status_for_error(exc))
    stored = hub.store.record_callback(callback.action, opened.header, opened.message)
    if stored is not None:
        hub.publish(stored)
    return JSONResponse(proto.ack(correlation_id or str(opened.header["message_id"])))


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


def _err(
    code: proto.ErrorCode, message: str, correlation_id: str | None, status: int
) -> JSONResponse:
    return JSONResponse(proto.err(code, message, correlation_id=correlation_id), status_code=status)
