"""The inbound pipeline every IBR-side operation runs before its one core call, for every host.

No web framework here: a host (the FastAPI app, the Odoo add-on) hands over the body bytes and
two headers, or an envelope it parsed itself (a multipart upload), and gets back the accepted
request or a typed error (``IbrProtocolError`` subclasses, each with its DCI code and field).

The order is IBR-SEC-009's, and the first failure is the answer:

    media type + UTF-8 -> JSON depth limit + parse + value limits (huge integers, NaN, NUL,
    lone surrogates) -> header.version (IBR-HDR-004) -> access token (+ scope)
    -> item counts of the message's lists (before any per-item work)
    -> sender binding (sender_id = token client, receiver_id, action, sender_uri SSRF)
    -> signature -> message_ts zone and window -> message_id replay
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

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ibr_protocol import (
    EncryptionError,
    ErrorCode,
    SchemaValidationError,
    decrypt_message,
    is_encrypted_message,
    normalise_envelope,
    validate,
)
from ibr_protocol.clock import parse_timestamp
from ibr_protocol.limits import RequestRefusedError, check_media_type, parse_json_limited
from ibr_protocol.tokens import AccessToken, TokenService
from ibr_protocol.tokens import bearer_token as protocol_bearer_token
from ibr_service.core import Caller
from ibr_service.core.records import ClientRecord
from ibr_service.core.store import Store
from ibr_service.security.batch_skeleton import BatchItems, detach_items, validate_skeleton
from ibr_service.security.callbacks import check_callback_url
from ibr_service.security.errors import (
    AuthenticationError,
    ForbiddenError,
    RequestRejectedError,
)
from ibr_service.security.header_faults import check_version, precise_fault
from ibr_service.security.item_counts import check_item_counts, object_budget
from ibr_service.security.keys import IbrKeys
from ibr_service.security.operations import Operation
from ibr_service.security.throttle import Throttle
from ibr_service.security.verification import SignatureCheck, check_message_security

__all__ = [
    "InboundRequest",
    "InboundSettings",
    "accept_body",
    "accept_envelope",
    "correlation_id_of",
    "envelope_from_jsonl",
    "parse_body",
]

_ITEMS_POINTER = "/enrolled_updates/beneficiaries"
_ENCRYPTED_MESSAGE_SCHEMA = "api/encrypted_message"
_MAX_MESSAGE_ID = 99
"""The longest message_id the replay memory stores (`seen_messages.message_id`)."""


class InboundSettings(Protocol):
    """What the pipeline reads from a host's settings (``ibr_service.settings.Settings`` has it)."""

    @property
    def receiver_id(self) -> str: ...
    @property
    def strict_signatures(self) -> bool: ...
    @property
    def timestamp_window_seconds(self) -> int: ...
    @property
    def max_json_depth(self) -> int: ...


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


def parse_body(
    body: bytes,
    *,
    content_type: str | None,
    settings: InboundSettings,
    operation: Operation | None = None,
) -> Any:
    """A JSON body as parsed data: 415 for another media type or encoding, 400 for bad JSON.

    With ``operation``, parsing stops once the body holds more JSON objects than that
    operation's items could (``object_budget``), so an oversized list is refused early.
    """
    check_media_type(content_type)
    budget = object_budget(operation) if operation is not None else None
    return parse_json_limited(body, max_depth=settings.max_json_depth, max_objects=budget)


def accept_body(
    body: bytes,
    *,
    content_type: str | None,
    authorization: str | None,
    operation: Operation,
    settings: InboundSettings,
    store: Store,
    tokens: TokenService,
    keys: IbrKeys,
    now: datetime,
    throttle: Throttle | None = None,
) -> InboundRequest:
    """The whole pipeline from the wire: body bytes, ``Content-Type`` and ``Authorization``."""
    raw = parse_body(body, content_type=content_type, settings=settings, operation=operation)
    return accept_envelope(
        raw,
        operation=operation,
        token=protocol_bearer_token(authorization),
        settings=settings,
        store=store,
        tokens=tokens,
        keys=keys,
        now=now,
        throttle=throttle,
    )


def correlation_id_of(raw: Any) -> str | None:
    """The request's ``header.message_id`` when it can be read (an ERR echoes it)."""
    header = raw.get("header") if isinstance(raw, dict) else None
    message_id = header.get("message_id") if isinstance(header, dict) else None
    if isinstance(message_id, str) and 0 < len(message_id) <= _MAX_MESSAGE_ID:
        return message_id
    return None


def accept_envelope(
    raw: Any,
    *,
    operation: Operation,
    token: str,
    settings: InboundSettings,
    store: Store,
    tokens: TokenService,
    keys: IbrKeys,
    now: datetime,
    throttle: Throttle | None = None,
) -> InboundRequest:
    """Run the pipeline after parsing; returns the accepted request or raises a typed error.

    ``throttle`` (per client) is hit right after the token is validated: a client over its rate
    gets 429 before any signature or schema work.
    """
    if not isinstance(raw, dict):
        raise RequestRejectedError("the body must be a JSON object (an envelope)", field="body")
    # A message of another version may not even parse as ours: the version is judged first.
    check_version(raw.get("header"))
    access, client = _authenticate(token, operation=operation, store=store, tokens=tokens, now=now)
    if throttle is not None:
        throttle.hit(f"client:{client.sender_id}")
    encrypted = isinstance(raw.get("message"), dict) and is_encrypted_message(raw["message"])
    if not encrypted:
        check_item_counts(raw.get("message"), operation)
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
    signed = bool(envelope.get("signature"))
    if settings.strict_signatures or signed:
        _check_zone_as_sent(raw["header"])
    signature = check_message_security(
        raw,
        header,
        signed=signed,
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
        check_item_counts(plaintext, operation)
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
    if operation.is_async and not envelope["header"].get("sender_uri"):
        # IBR-CB-001: the registered base + the operation's SP-MIS path; set only now, after
        # the signature was verified over the header as sent.
        envelope["header"]["sender_uri"] = registered_callback(client, operation)
    return InboundRequest(
        operation=operation,
        envelope=envelope,
        caller=_caller_for(client, access),
        client=client,
        signature=signature,
        was_encrypted=encrypted,
    )


def registered_callback(client: ClientRecord, operation: Operation) -> str | None:
    """The callback URL of a request without `sender_uri`: the client's registered base URL
    plus the operation's callback path (IBR-CB-001); None when the client registered none."""
    if not client.callback_base_url or operation.callback_path is None:
        return None
    return client.callback_base_url.rstrip("/") + operation.callback_path


def _caller_for(client: ClientRecord, access: AccessToken) -> Caller:
    """The client as the core sees it, with its read scope and purposes (docs/registry-model.md)."""
    return Caller.from_client(client, access.scopes)


def envelope_from_jsonl(content: bytes, *, max_json_depth: int) -> dict[str, Any]:
    """JSONL upload: line 1 the envelope without beneficiaries, then one beneficiary per line.

    The beneficiaries are appended, in order, to ``message.enrolled_updates.beneficiaries``
    before the envelope is checked, so the signature covers the assembled envelope.
    """
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        raise RequestRejectedError("the JSONL file is empty", field="fileName")
    envelope = parse_json_limited(lines[0], max_depth=max_json_depth)
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
            items.append(parse_json_limited(line, max_depth=max_json_depth))
        except RequestRefusedError as exc:
            raise RequestRejectedError(exc.message, field=f"fileName:{number}") from exc
    return envelope


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
            "the client of this token is unknown or disabled", reason="err.token.invalid"
        )
    return access, client


def _check_zone_as_sent(raw_header: Any) -> None:
    # The normaliser reads a zone-less instant as UTC (DCI variants); a signed message_ts must
    # carry its zone as sent (security profile section 5), so it is judged before that rewrite.
    message_ts = raw_header.get("message_ts") if isinstance(raw_header, dict) else None
    if isinstance(message_ts, str):
        parse_timestamp(message_ts)


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
    header: dict[str, Any], *, operation: Operation, client: ClientRecord, settings: InboundSettings
) -> None:
    # The messages name the rule and the expected value only: what was sent is the sender's.
    if header.get("sender_id") != client.sender_id:
        raise ForbiddenError(
            f"header.sender_id is not the client of the access token ({client.sender_id!r})",
            code=ErrorCode.SENDER_ID_INVALID,
            field="header.sender_id",
        )
    if header.get("receiver_id") != settings.receiver_id:
        raise RequestRejectedError(
            f"header.receiver_id is not this IBR ({settings.receiver_id!r})",
            field="header.receiver_id",
            code=ErrorCode.RECEIVER_ID_INVALID,
        )
    if header.get("action") != operation.action:
        raise RequestRejectedError(
            f"header.action does not match this endpoint (expected {operation.action!r})",
            field="header.action",
            reason="err.request.action_mismatch",
        )
    if operation.is_async:
        sender_uri = header.get("sender_uri") or registered_callback(client, operation)
        if not sender_uri:
            raise ForbiddenError(
                "header.sender_uri is required on asynchronous requests (the callback URL), "
                "unless the client has a registered callback URL",
                code=ErrorCode.SENDER_URI_INVALID,
                field="header.sender_uri",
            )
        check_callback_url(
            str(sender_uri),
            allowed_hosts=client.allowed_callback_hosts,
            allow_private=client.allow_private_callbacks,
        )
