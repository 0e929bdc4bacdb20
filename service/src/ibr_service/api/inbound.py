"""The FastAPI side of the inbound pipeline: read the body, hand it to ``security.inbound``.

Every check (token, sender binding, signature, time window, replay, decryption, schema, item
counts) lives in ``ibr_service.security.inbound`` so that every host runs the same ones; this
module only reads what FastAPI holds (headers, the streamed body, a multipart form).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ibr_protocol.limits import read_body_limited as read_limited
from ibr_protocol.tokens import bearer_token as protocol_bearer_token
from ibr_service.api.dependencies import (
    ClockDep,
    KeysDep,
    SettingsDep,
    StoreDep,
    ThrottlesDep,
    TokensDep,
)
from ibr_service.security.errors import RequestRejectedError
from ibr_service.security.inbound import (
    InboundRequest,
    accept_envelope,
    correlation_id_of,
    envelope_from_jsonl,
    parse_body,
)
from ibr_service.security.operations import Operation
from ibr_service.settings import Settings

__all__ = ["InboundRequest", "bearer_token", "inbound_for", "read_body_limited"]


async def read_body_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it grows past ``limit`` bytes."""
    return await read_limited(request.headers.get("content-length"), request.stream(), limit)


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent."""
    return protocol_bearer_token(request.headers.get("authorization"))


async def _body_envelope(request: Request, operation: Operation, settings: Settings) -> Any:
    content_type = request.headers.get("content-type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if operation.accepts_file and media_type == "multipart/form-data":
        # The size limit is enforced by the BodySizeLimit middleware as the form streams in.
        return await _file_envelope(request, settings, operation)
    if media_type != "application/json":
        accepted = "application/json" + (
            " or multipart/form-data" if operation.accepts_file else ""
        )
        raise RequestRejectedError(
            f"Content-Type {media_type or 'none'!r} is not accepted here; send {accepted}",
            field="Content-Type",
            reason="err.request.media_type",
            http_status=415,
        )
    body = await read_body_limited(request, settings.max_body_bytes)
    return parse_body(body, content_type=content_type, settings=settings, operation=operation)


async def _file_envelope(request: Request, settings: Settings, operation: Operation) -> Any:
    async with request.form(max_files=1, max_fields=4) as form:
        action = form.get("action")
        upload = form.get("fileName") or form.get("file")
        file_format = str(form.get("fileFormat") or "json").lower()
        if not isinstance(upload, UploadFile):
            raise RequestRejectedError(
                "multipart upload needs a file part named 'fileName'", field="fileName"
            )
        content = await upload.read()
    if action is not None and str(action) != "notify":
        raise RequestRejectedError(
            "form field action must be 'notify' for enrollment updates", field="action"
        )
    if file_format == "json":
        return parse_body(
            content, content_type="application/json", settings=settings, operation=operation
        )
    if file_format == "jsonl":
        return envelope_from_jsonl(content, max_json_depth=settings.max_json_depth)
    raise RequestRejectedError(
        "fileFormat is not supported; use 'json' or 'jsonl'", field="fileFormat"
    )


def inbound_for(
    operation: Operation,
) -> Callable[..., Awaitable[InboundRequest]]:
    """The dependency that runs the inbound pipeline for ``operation``."""

    async def dependency(
        request: Request,
        settings: SettingsDep,
        store: StoreDep,
        tokens: TokensDep,
        keys: KeysDep,
        clock: ClockDep,
        throttles: ThrottlesDep,
    ) -> InboundRequest:
        request.state.operation = operation.path
        raw = await _body_envelope(request, operation, settings)
        correlation_id = correlation_id_of(raw)
        if correlation_id is not None:
            request.state.correlation_id = correlation_id
            request.state.message_id = correlation_id
        request.state.claimed_sender_id = _claimed_sender(raw)
        token = bearer_token(request)
        accepted = await run_in_threadpool(
            accept_envelope,
            raw,
            operation=operation,
            token=token,
            settings=settings,
            store=store,
            tokens=tokens,
            keys=keys,
            now=clock(),
            throttle=throttles.per_client,
        )
        request.state.sender_id = accepted.caller.sender_id
        return accepted

    dependency.__name__ = f"inbound_{operation.action}_{operation.path.strip('/')}"
    return dependency


def _claimed_sender(raw: Any) -> str | None:
    # For the refusal log only, marked as claimed: nothing has verified it yet.
    header = raw.get("header") if isinstance(raw, dict) else None
    sender = header.get("sender_id") if isinstance(header, dict) else None
    return f"claimed:{sender[:64]}" if isinstance(sender, str) else None
