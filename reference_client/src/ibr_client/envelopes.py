"""Building outgoing envelopes and opening incoming ones, without any I/O.

Outgoing: build the header, validate the plain message against the spec (nothing invalid ever
leaves), optionally encrypt, then sign what goes on the wire. Incoming (sync answers and
callbacks): normalise DCI variants, verify the signature, decrypt, validate, check the status.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import ibr_protocol as proto
from ibr_client.errors import IbrRejectedError, RequestInvalidError, ResponseInvalidError
from ibr_client.keys import IbrKeys
from ibr_client.operations import CALLBACKS, Operation
from ibr_protocol.dci_signature import is_placeholder_signature, sign_dci

log = logging.getLogger(__name__)

__all__ = [
    "EnvelopeCodec",
    "OpenedMessage",
    "envelope_schema",
    "new_transaction_id",
    "read_ack",
]


def envelope_schema(message_schema: str) -> str:
    """The whole-body schema of a message: ``messages/x`` -> ``api/envelope_x``."""
    return "api/envelope_" + message_schema.removeprefix("messages/")


def new_transaction_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class OpenedMessage:
    """A verified, decrypted and validated envelope."""

    header: dict[str, Any]
    message: dict[str, Any]
    signed_by: str | None
    """The ``kid`` that signed it, or None when signature checks are off."""


class EnvelopeCodec:
    """Our side of the wire form: one instance per configured client."""

    def __init__(
        self,
        *,
        sender_id: str,
        receiver_id: str,
        callback_url: str | None,
        signing_key: dict[str, Any] | None,
        ibr_keys: IbrKeys | None,
        encryption_key: dict[str, Any] | None = None,
        decryption_key: dict[str, Any] | None = None,
        signature_profile: str = "jws",
        callbacks_unsigned_ok: bool = False,
    ) -> None:
        self.sender_id = sender_id
        self.callbacks_unsigned_ok = callbacks_unsigned_ok
        self.signature_profile = signature_profile
        self.receiver_id = receiver_id
        self.callback_url = callback_url
        self._signing_key = signing_key
        self._ibr_keys = ibr_keys
        self._encryption_key = encryption_key
        self._decryption_key = decryption_key

    # -- outgoing -----------------------------------------------------------------------------

    def build(
        self, op: Operation, message: dict[str, Any], *, total_count: int | None = None
    ) -> dict[str, Any]:
        """A complete, validated (and signed, encrypted when configured) request envelope."""
        _validate_outgoing(message, op.request_schema)
        envelope = proto.build_request(
            action=op.action,
            message=message,
            sender_id=self.sender_id,
            receiver_id=self.receiver_id,
            sender_uri=self._sender_uri(op),
            total_count=total_count,
        )
        if self._encryption_key is not None:
            envelope["message"] = proto.encrypt_message(message, self._encryption_key)
            envelope["header"]["is_msg_encrypted"] = True
        if self._signing_key is not None:
            envelope = self._sign(envelope, self._signing_key)
        _validate_outgoing(envelope, envelope_schema(op.request_schema))
        return envelope

    def _sign(self, envelope: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
        if self.signature_profile == "dci":
            # DCI's Signature string (security profile 3b), for IBRs of the DCI era.
            signature = sign_dci(envelope["header"], envelope["message"], key)
            return {**envelope, "signature": signature}
        return proto.sign_envelope(envelope, key)

    def _sender_uri(self, op: Operation) -> str | None:
        # The IBR POSTs the callback to header.sender_uri itself (spec/openapi.yaml callbacks),
        # so it is the receiver's base URL plus the path of the expected callback.
        if op.callback_action is None or self.callback_url is None:
            return None
        return self.callback_url + CALLBACKS[op.callback_action].path

    # -- incoming -----------------------------------------------------------------------------

    def open(self, raw: dict[str, Any], message_schema: str) -> OpenedMessage:
        """Normalise, verify, decrypt and validate an incoming envelope.

        Raises the protocol library's typed errors (they carry the DCI code for an ERR ACK).
        """
        envelope = proto.normalise_envelope(raw)
        return self.read_verified(envelope, message_schema, signed_by=self.verify(envelope))

    def verify(self, envelope: dict[str, Any]) -> str | None:
        """Check the IBR's signature on a normalised envelope; the ``kid`` (None: checks off)."""
        if self._ibr_keys is None:
            return None
        signature = envelope.get("signature")
        if self.callbacks_unsigned_ok and is_placeholder_signature(signature):
            # callback_signature = "optional": a peer that cannot sign; a real one is verified.
            log.warning(
                "accepted a callback without a signature (callback_signature = optional): %r",
                str(signature)[:40],
            )
            return None
        verified = proto.verify_envelope(envelope, self._ibr_keys)
        return getattr(verified, "kid", None)

    def read_verified(
        self, envelope: dict[str, Any], message_schema: str, *, signed_by: str | None
    ) -> OpenedMessage:
        """Validate and (when encrypted) decrypt a verified envelope: the last two checks."""
        proto.validate(envelope, envelope_schema(message_schema))
        header: dict[str, Any] = envelope["header"]
        message: dict[str, Any] = envelope["message"]
        if header.get("is_msg_encrypted"):
            if self._decryption_key is None:
                raise proto.EncryptionError(
                    "encrypted message but no decryption_key_file is configured",
                    field="message",
                )
            message = proto.decrypt_message(message, self._decryption_key)
            proto.validate(message, message_schema)
        return OpenedMessage(header=header, message=message, signed_by=signed_by)

    def open_response(self, op: Operation, body: Any) -> OpenedMessage:
        """Open a synchronous answer and raise :class:`IbrRejectedError` if it was rejected."""
        assert op.response_schema is not None
        if not isinstance(body, dict) or "header" not in body:
            read_ack(body)  # an ERR/NACK instead of an answer raises here
            raise ResponseInvalidError(op.name, "neither an envelope nor an acknowledgement")
        try:
            opened = self.open(body, op.response_schema)
        except proto.IbrProtocolError as exc:
            raise ResponseInvalidError(f"{op.name} answer", str(exc)) from None
        if opened.header.get("status") == "rjct":
            raise IbrRejectedError(
                str(opened.header.get("status_reason_code") or "rjct"),
                str(opened.header.get("status_reason_message") or "rejected"),
                correlation_id=opened.message.get("correlation_id"),
            )
        return opened


def read_ack(body: Any) -> dict[str, Any]:
    """The ``message`` of an ACK body; raises :class:`IbrRejectedError` on NACK or ERR."""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict) or "ack_status" not in message:
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            raise IbrRejectedError(str(first.get("code")), str(first.get("message", "")))
        raise ResponseInvalidError("acknowledgement", "no message.ack_status in the body")
    status = message["ack_status"]
    if status == "ACK":
        return message
    error = message.get("error") or {}
    raise IbrRejectedError(
        str(error.get("code") or f"ack.{str(status).lower()}"),
        str(error.get("message") or f"the IBR answered {status}"),
        correlation_id=message.get("correlation_id"),
    )


def _validate_outgoing(instance: dict[str, Any], schema: str) -> None:
    try:
        proto.validate(instance, schema)
    except proto.SchemaValidationError as exc:
        raise RequestInvalidError(schema, [(e.path, e.message) for e in exc.errors]) from None
