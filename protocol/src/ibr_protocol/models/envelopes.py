"""One envelope model per operation (`spec/schemas/api/envelope_<operation>`).

Each fixes the header kind and `action`, and checks `message` against the operation's message
model, or against EncryptedMessage when `header.is_msg_encrypted` is true.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError, model_validator

from ibr_protocol.models._base import WireModel
from ibr_protocol.models.api import CallbackHeader, EncryptedMessage, RequestHeader, Signature
from ibr_protocol.models.messages import (
    EnrolledRequest,
    EnrolledResponse,
    EnrollmentUpdatesRequest,
    EnrollmentUpdatesResponse,
    NotifyEventRequest,
    SearchRequest,
    SearchResponse,
    SubscribeRequest,
    SubscribeResponse,
    TxnStatusRequest,
    TxnStatusResponse,
    UnsubscribeRequest,
    UnsubscribeResponse,
)


class _OperationEnvelope(WireModel):
    action: ClassVar[str]
    message_model: ClassVar[type[BaseModel]]

    signature: Signature | None = None
    message: dict[str, Any]

    def _header(self) -> RequestHeader | CallbackHeader:
        raise NotImplementedError

    @model_validator(mode="after")
    def _operation_rules(self) -> _OperationEnvelope:
        header = self._header()
        if header.action != self.action:
            raise ValueError(f"header.action must be {self.action!r}, not {header.action!r}")
        model: type[BaseModel] = (
            EncryptedMessage if header.is_msg_encrypted is True else self.message_model
        )
        try:
            model.model_validate(self.message, strict=True)
        except ValidationError as exc:
            details = "; ".join(
                f"message.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise ValueError(f"message is not a {model.__name__}: {details}") from None
        return self

    def parsed_message(self) -> BaseModel:
        """The message as its model (EncryptedMessage when encrypted)."""
        encrypted = self._header().is_msg_encrypted is True
        model = EncryptedMessage if encrypted else self.message_model
        return model.model_validate(self.message, strict=True)


class _RequestEnvelope(_OperationEnvelope):
    header: RequestHeader

    def _header(self) -> RequestHeader:
        return self.header


class _CallbackEnvelope(_OperationEnvelope):
    header: CallbackHeader

    def _header(self) -> CallbackHeader:
        return self.header


class SearchRequestEnvelope(_RequestEnvelope):
    """api/envelope_search_request."""

    action = "search"
    message_model = SearchRequest


class SearchResponseEnvelope(_CallbackEnvelope):
    """api/envelope_search_response."""

    action = "on-search"
    message_model = SearchResponse


class EnrolledRequestEnvelope(_RequestEnvelope):
    """api/envelope_enrolled_request."""

    action = "search"
    message_model = EnrolledRequest


class EnrolledResponseEnvelope(_CallbackEnvelope):
    """api/envelope_enrolled_response."""

    action = "on-search"
    message_model = EnrolledResponse


class EnrollmentUpdatesRequestEnvelope(_RequestEnvelope):
    """api/envelope_enrollment_updates_request."""

    action = "notify"
    message_model = EnrollmentUpdatesRequest


class EnrollmentUpdatesResponseEnvelope(_CallbackEnvelope):
    """api/envelope_enrollment_updates_response."""

    action = "notify"
    message_model = EnrollmentUpdatesResponse


class NotifyEventRequestEnvelope(_CallbackEnvelope):
    """api/envelope_notify_event_request."""

    action = "notify"
    message_model = NotifyEventRequest


class SubscribeRequestEnvelope(_RequestEnvelope):
    """api/envelope_subscribe_request."""

    action = "subscribe"
    message_model = SubscribeRequest


class SubscribeResponseEnvelope(_CallbackEnvelope):
    """api/envelope_subscribe_response."""

    action = "on-subscribe"
    message_model = SubscribeResponse


class UnsubscribeRequestEnvelope(_RequestEnvelope):
    """api/envelope_unsubscribe_request."""

    action = "unsubscribe"
    message_model = UnsubscribeRequest


class UnsubscribeResponseEnvelope(_CallbackEnvelope):
    """api/envelope_unsubscribe_response."""

    action = "on-unsubscribe"
    message_model = UnsubscribeResponse


class TxnStatusRequestEnvelope(_RequestEnvelope):
    """api/envelope_txn_status_request."""

    action = "txn-status"
    message_model = TxnStatusRequest


class TxnStatusResponseEnvelope(_CallbackEnvelope):
    """api/envelope_txn_status_response."""

    action = "txn-on-status"
    message_model = TxnStatusResponse
