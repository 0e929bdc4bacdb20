"""The inbound pipeline every IBR-side operation runs before its one core call.

The order is IBR-SEC-009's, and the first failure is the answer:

    size limit -> JSON depth limit + parse -> header.version (IBR-HDR-004)
    -> access token (+ scope) -> sender binding (sender_id = token client, receiver_id, action,
       sender_uri SSRF) -> signature -> message_ts window -> message_id replay
    -> decryption -> ibr_protocol.validate(<operation envelope schema>)

The envelope is normalised (a pure rewrite) before the header is read, but nothing is validated
against the schema until every security check has passed, so an unauthenticated caller never
makes the IBR run schema validation. A header that is not an object cannot be bound to a sender
and ends at the schema step as `err.request.bad`.

A fault DCI names with its own `Error.code` (version, receiver_id, sender_id, sender_uri,
signature, encryption) is reported with that code even when the schema catches it
(`header_faults`); every other schema fault is `err.request.bad`.

A batch (sync/enrollment/updates) is normalised and validated as a skeleton, without its items;
the core checks each item and rejects only the bad ones (see `batch_skeleton`).

The replay memory is the only write. Because replay comes before the schema, a correctly signed,
fresh message that then fails the schema has used up its message_id: that is intended by the
order (the signature proves the sender sent exactly that message, so it may not be sent again),
and a sender fixes the message and sends it under a new message_id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ibr_protocol import (
    EncryptionError,
    ErrorCode,
    SchemaValidationError,
    decrypt_message,
    is_encrypted_message,
    normalise_envelope,
    validate,
)
from ibr_protocol.limits import RequestRefusedError, parse_json_limited
from ibr_protocol.limits import read_body_limited as read_limited
from ibr_protocol.tokens import AccessToken, TokenService
from ibr_protocol.tokens import bearer_token as protocol_bearer_token
from ibr_service.api.batch_skeleton import BatchItems, detach_items, validate_skeleton
from ibr_service.api.dependencies import ClockDep, KeysDep, SettingsDep, StoreDep, TokensDep
from ibr_service.api.header_faults import check_version, precise_fault
from ibr_service.api.operations import Operation
from ibr_service.core import Caller
from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.callbacks import check_callback_url
from ibr_service.security.errors import (
    AuthenticationError,
    ForbiddenError,
    RequestRejectedError,
)
from ibr_service.security.keys import IbrKeys
from ibr_service.security.verification import SignatureCheck, check_message_security
from ibr_service.settings import Settings

__all__ = ["InboundRequest", "accept_envelope", "inbound_for", "read_body_limited"]

_ITEMS_POINTER = "/enrolled_updates/beneficiaries"
_ENCRYPTED_MESSAGE_SCHEMA = "api/encrypted_message"
_MAX_MESSAGE_ID = 99
"""The longest message_id the replay memory stores (`seen_messages.message_id`)."""


@dataclass(frozen=True)
class InboundRequest:
    """A request that passed every check: canonical envelope plus who sent it."""

    operation: Operation
    envelope: dict[str, Any]
    caller: Caller
    client: ClientRecord
    signature: SignatureCheck
    was_encrypted: bool = False
    """The request came encrypted; ``envelope`` holds the decrypted message."""

    @property
    def header(self) -> dict[str, Any]:
        header: dict[str, Any] = self.envelope["header"]
        return header

    @property
    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = self.envelope["message"]
        return message


async def read_body_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it grows past ``limit`` bytes."""
    return await read_limited(request.headers.get("content-length"), request.stream(), limit)


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent."""
    return protocol_bearer_token(request.headers.get("authorization"))


def accept_envelope(
    raw: Any,
    *,
    operation: Operation,
    token: str,
    settings: Settings,
    store: Store,
    tokens: TokenService,
    keys: IbrKeys,
    now: datetime,
) -> InboundRequest:
    """Run the pipeline after parsing; returns the accepted request or raises a typed error."""
    if not isinstance(raw, dict):
        raise RequestRejectedError("the body must be a JSON object (an envelope)", field="body")
    # A message of another version may not even parse as ours: the version is judged first.
    check_version(raw.get("header"))
    access, client = _authenticate(token, operation=operation, store=store, tokens=tokens, now=now)
    encrypted = isinstance(raw.get("message"), dict) and is_encrypted_message(raw["message"])
    batch: BatchItems | None = None
    skeleton = raw
    if not encrypted:
        # Batch items are checked one by one by the core, so that one bad item is rejected alone.
        message, batch = detach_items(raw.get("message"), operation.message_schema)
        skeleton = {**raw, "message": message}
    envelope = normalise_envelope(skeleton)
    if encrypted:
        # An EncryptedMessage is opaque: it is validated and decrypted exactly as sent.
        envelope["message"] = raw["message"]
    header = envelope.get("header")
    if not isinstance(header, dict):
        _check_schema(envelope, operation, batch)  # always fails: a header must be an object
        raise RequestRejectedError("header must be a JSON object", field="header")
    _check_header(header, operation=operation, client=client, settings=settings)
    _check_replay_key(header)
    signature = check_message_security(
        raw,
        header,
        signed=bool(envelope.get("signature")),
        client=client,
        store=store,
        strict=settings.strict_signatures,
        window_seconds=settings.timestamp_window_seconds,
        now=now,
    )
    if encrypted:
        # Encrypt-then-sign: the signature covered the EncryptedMessage; now open it, bring the
        # plaintext to the canonical form and hold it to the operation's message schema.
        _check_encrypted_shape(raw["message"])
        plaintext = decrypt_message(raw["message"], keys.encryption_key)
        _check_schema(envelope, operation, None)
        header = {**header, "is_msg_encrypted": False}
        message, batch = detach_items(plaintext, operation.message_schema)
        envelope = normalise_envelope({"header": header, "message": message})
        validate_skeleton(
            envelope["message"], operation.message_schema, batch, items_pointer=_ITEMS_POINTER
        )
    else:
        _check_schema(envelope, operation, batch)
    if batch is not None:
        batch.attach(envelope["message"])
    caller = Caller.from_client(client, access.scopes)
    return InboundRequest(
        operation=operation,
        envelope=envelope,
        caller=caller,
        client=client,
        signature=signature,
        was_encrypted=encrypted,
    )


def _authenticate(
    token: str, *, operation: Operation, store: Store, tokens: TokenService, now: datetime
) -> tuple[AccessToken, ClientRecord]:
    """The access token (with the operation's scope) and the active client it was issued to."""
    access = tokens.validate(token, now=now)
    access.require_scope(operation.scope)
    with store.transaction() as tx:
        client = tx.get_client(access.client_id)
    if client is None or not client.active:
        raise AuthenticationError(
            f"the client {access.client_id!r} of this token is unknown or disabled",
            reason="err.token.invalid",
        )
    return access, client


def _check_replay_key(header: dict[str, Any]) -> None:
    # The replay memory stores message_id, so it must be storable before the security checks
    # run; its full rule (common.schema.json#/$defs/message_id) is the schema step's.
    message_id = header.get("message_id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= _MAX_MESSAGE_ID:
        raise RequestRejectedError(
            f"header.message_id must be a string of 1 to {_MAX_MESSAGE_ID} characters",
            field="header.message_id",
        )


def _check_encrypted_shape(message: Any) -> None:
    try:
        validate(message, _ENCRYPTED_MESSAGE_SCHEMA)
    except SchemaValidationError as exc:
        detail = exc.errors[0]
        raise EncryptionError(
            f"message is not a valid EncryptedMessage: {detail.path}: {detail.message}",
            field="message",
        ) from exc


def _check_schema(envelope: dict[str, Any], operation: Operation, batch: BatchItems | None) -> None:
    """Last step: the operation's envelope schema, with DCI's precise codes where it has them."""
    try:
        validate_skeleton(
            envelope, operation.request_schema, batch, items_pointer="/message" + _ITEMS_POINTER
        )
    except SchemaValidationError as exc:
        precise = precise_fault(exc, envelope)
        if precise is exc:
            raise
        raise precise from exc


def _check_header(
    header: dict[str, Any], *, operation: Operation, client: ClientRecord, settings: Settings
) -> None:
    if header.get("sender_id") != client.sender_id:
        raise ForbiddenError(
            f"header.sender_id {header.get('sender_id')!r} is not the client of the access "
            f"token ({client.sender_id!r})",
            code=ErrorCode.SENDER_ID_INVALID,
            field="header.sender_id",
        )
    if header.get("receiver_id") != settings.receiver_id:
        raise RequestRejectedError(
            f"header.receiver_id {header.get('receiver_id')!r} is not this IBR "
            f"({settings.receiver_id!r})",
            field="header.receiver_id",
            code=ErrorCode.RECEIVER_ID_INVALID,
        )
    if header.get("action") != operation.action:
        raise RequestRejectedError(
            f"header.action {header.get('action')!r} does not match this endpoint "
            f"(expected {operation.action!r})",
            field="header.action",
            reason="err.request.action_mismatch",
        )
    if operation.is_async:
        sender_uri = header.get("sender_uri")
        if not sender_uri:
            raise ForbiddenError(
                "header.sender_uri is required on asynchronous requests (the callback URL)",
                code=ErrorCode.SENDER_URI_INVALID,
                field="header.sender_uri",
            )
        check_callback_url(
            str(sender_uri),
            allowed_hosts=client.allowed_callback_hosts,
            allow_private=client.allow_private_callbacks,
        )


async def _body_envelope(request: Request, operation: Operation, settings: Settings) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if operation.accepts_file and content_type == "multipart/form-data":
        # The size limit is enforced by the BodySizeLimit middleware as the form streams in.
        return await _file_envelope(request, settings)
    if content_type != "application/json":
        accepted = "application/json" + (
            " or multipart/form-data" if operation.accepts_file else ""
        )
        raise RequestRejectedError(
            f"Content-Type {content_type or 'none'!r} is not accepted here; send {accepted}",
            field="Content-Type",
            reason="err.request.media_type",
            http_status=415,
        )
    body = await read_body_limited(request, settings.max_body_bytes)
    return parse_json_limited(body, max_depth=settings.max_json_depth)


async def _file_envelope(request: Request, settings: Settings) -> Any:
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
            f"form field action {action!r} must be 'notify' for enrollment updates",
            field="action",
        )
    if file_format == "json":
        return parse_json_limited(content, max_depth=settings.max_json_depth)
    if file_format == "jsonl":
        return _envelope_from_jsonl(content, settings)
    raise RequestRejectedError(
        f"fileFormat {file_format!r} is not supported; use 'json' or 'jsonl'", field="fileFormat"
    )


def _envelope_from_jsonl(content: bytes, settings: Settings) -> dict[str, Any]:
    """JSONL upload: line 1 the envelope without beneficiaries, then one beneficiary per line.

    The beneficiaries are appended, in order, to ``message.enrolled_updates.beneficiaries``
    before the envelope is checked, so the signature covers the assembled envelope.
    """
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        raise RequestRejectedError("the JSONL file is empty", field="fileName")
    envelope = parse_json_limited(lines[0], max_depth=settings.max_json_depth)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise RequestRejectedError(
            "line 1 of a JSONL upload must be the envelope {signature, header, message}",
            field="fileName:1",
        )
    updates = envelope["message"].setdefault("enrolled_updates", {})
    items = updates.setdefault("beneficiaries", []) if isinstance(updates, dict) else None
    if not isinstance(items, list):
        raise RequestRejectedError(
            "message.enrolled_updates.beneficiaries on line 1 must be a list", field="fileName:1"
        )
    for number, line in enumerate(lines[1:], start=2):
        try:
            items.append(parse_json_limited(line, max_depth=settings.max_json_depth))
        except RequestRefusedError as exc:
            raise RequestRejectedError(exc.message, field=f"fileName:{number}") from exc
    return envelope


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
    ) -> InboundRequest:
        raw = await _body_envelope(request, operation, settings)
        _remember_correlation(request, raw)
        token = bearer_token(request)
        return await run_in_threadpool(
            accept_envelope,
            raw,
            operation=operation,
            token=token,
            settings=settings,
            store=store,
            tokens=tokens,
            keys=keys,
            now=clock(),
        )

    dependency.__name__ = f"inbound_{operation.action}_{operation.path.strip('/')}"
    return dependency


def _remember_correlation(request: Request, raw: Any) -> None:
    # An ERR answers with the request's message_id as correlation id when it can be read.
    header = raw.get("header") if isinstance(raw, dict) else None
    message_id = header.get("message_id") if isinstance(header, dict) else None
    if isinstance(message_id, str) and 0 < len(message_id) < 100:
        request.state.correlation_id = message_id
