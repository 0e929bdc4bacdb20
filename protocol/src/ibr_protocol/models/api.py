"""Envelope parts (`spec/schemas/api`): headers, ACK, errors, encrypted message, queries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from ibr_protocol.models._base import (
    ApiDateTime,
    IdentifierTypeCode,
    Integer,
    Text99,
    Text999,
    Uri,
    WireModel,
)

Action = Literal[
    "search",
    "on-search",
    "subscribe",
    "on-subscribe",
    "notify",
    "unsubscribe",
    "on-unsubscribe",
    "txn-status",
    "txn-on-status",
]
RequestStatus = Literal["rcvd", "pdng", "succ", "rjct"]
HeaderStatusReasonCode = Literal[
    "rjct.version.invalid",
    "rjct.message_id.duplicate",
    "rjct.message_ts.invalid",
    "rjct.action.invalid",
    "rjct.action.not_supported",
    "rjct.total_count.invalid",
    "rjct.total_count.limit_exceeded",
    "rjct.errors.too_many",
    "rjct.txn.not_found",
]
WireErrorCode = Literal[
    "err.request.bad",
    "err.request.unauthorized",
    "err.request.forbidden",
    "err.request.not_found",
    "err.request.timeout",
    "err.version.not_supported",
    "err.request.too_many_requests",
    "err.sender_id.invalid",
    "err.sender_uri.invalid",
    "err.receiver_id.invalid",
    "err.signature.missing",
    "err.signature.invalid",
    "err.encryption.invalid",
    "err.service.unavailable",
]
QUERY_ATTRIBUTES = (
    "identifier_type",
    "identifier_value",
    "member_identifier",
    "group_identifier",
    "programme_identifier",
    "beneficiary_programme_id",
    "enrolment_status",
    "enrolment_date",
    "status_change_date",
    "benefit_type",
    "benefit_date",
    "assistance_unit",
    "sex",
    "birth_date",
    "region_code",
    "sub_region_code",
    "area_code",
    "last_updated",
)
"""The attributes an IBR holds (api/query_attribute, first branch)."""
QueryAttribute = Annotated[
    str, StringConstraints(max_length=99, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
]
"""Any well-formed attribute name: an unknown one is refused per item (api/query_attribute)."""
RegistryType = Literal["IBR"]
RegistryEventType = Literal["enrollement", "enrollement_status_change", "deregister"]
RegistryRecordType = Literal["Beneficiary", "Member", "Group"]
QueryType = Literal["idtype-value", "expression", "predicate"]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
Base64Url = Annotated[str, StringConstraints(min_length=1, pattern=r"^[A-Za-z0-9_-]*$")]
SIGNATURE_PATTERN = (
    r"^(?:[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+"
    r'|(?:[Ss]ignature: *)?[^\n]*(?:kidId="[^"\n]+"[^\n]*signature="[A-Za-z0-9+/]+={0,2}"'
    r'|signature="[A-Za-z0-9+/]+={0,2}"[^\n]*kidId="[^"\n]+")[^\n]*)$'
)
Signature = (
    Annotated[str, StringConstraints(min_length=5, max_length=4096, pattern=SIGNATURE_PATTERN)]
    | Literal["", "unsigned", "unsigned-stub"]
    | Annotated[str, StringConstraints(max_length=4096, pattern=r'signature="Base64\(')]
)
"""A detached-payload JWS, DCI's signature string, or a value that signs nothing (counted as
no signature, IBR-SIG-010): api/signature; security profile §3."""
SenderUri = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://"), Uri]


class _HeaderBase(WireModel):
    version: Literal["1.0.0"] | None = None
    message_id: Text99
    message_ts: ApiDateTime
    action: Action
    sender_id: Text99
    receiver_id: Text99 | None = None
    total_count: Integer | None = Field(default=None, ge=0)
    is_msg_encrypted: bool | None = None
    meta: dict[str, Any] | None = None


class RequestHeader(_HeaderBase):
    """The header of a request (api/request_header)."""

    total_count: Integer = Field(ge=0)
    sender_uri: SenderUri | None = None


class CallbackHeader(_HeaderBase):
    """The header of a callback or response (api/callback_header)."""

    status: RequestStatus
    status_reason_code: HeaderStatusReasonCode | None = None
    status_reason_message: Text999 | None = None
    completed_count: Integer | None = Field(default=None, ge=0)


class Error(WireModel):
    """The `error` of an ERR acknowledgement (api/error)."""

    code: WireErrorCode
    message: Text999


class AckMessage(WireModel):
    """The body of an acknowledgement: status, time, correlation id, error when ERR."""

    ack_status: Literal["ACK", "NACK", "ERR"]
    timestamp: ApiDateTime
    correlation_id: Text99
    error: Error | None = None

    @model_validator(mode="after")
    def _error_exactly_when_err(self) -> AckMessage:
        if self.ack_status == "ERR" and self.error is None:
            raise ValueError("ack_status ERR requires error (if/then)")
        if self.ack_status != "ERR" and self.error is not None:
            raise ValueError(f"ack_status {self.ack_status} must not carry error (if/else)")
        return self


class Ack(WireModel):
    """The synchronous acknowledgement every endpoint answers with (api/ack)."""

    message: AckMessage


class EphemeralKey(WireModel):
    """The sender's ephemeral X25519 public key of ECDH-ES."""

    kty: Literal["OKP"]
    crv: Literal["X25519"]
    x: Base64Url


class EncryptedHeader(WireModel):
    """The JWE protected header, decoded."""

    alg: Literal["ECDH-ES+A256KW", "RSA-OAEP-256"]
    enc: Literal["A256GCM"]
    kid: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    epk: EphemeralKey | None = None
    typ: str | None = None
    cty: Literal["json"] | None = None

    @model_validator(mode="after")
    def _epk_for_ecdh(self) -> EncryptedHeader:
        if self.alg == "ECDH-ES+A256KW" and self.epk is None:
            raise ValueError("alg ECDH-ES+A256KW requires epk (if/then)")
        return self


class EncryptedMessage(WireModel):
    """A JWE mapped onto the DCI EncryptedMessage (api/encrypted_message)."""

    header: EncryptedHeader
    encrypted_key: Base64Url
    iv: Annotated[str, StringConstraints(min_length=16, max_length=16, pattern=r"^[A-Za-z0-9_-]*$")]
    ciphertext: Base64Url
    tag: Annotated[
        str, StringConstraints(min_length=22, max_length=22, pattern=r"^[A-Za-z0-9_-]*$")
    ]


class Envelope(WireModel):
    """Any envelope: signature, a request or callback header, and a message object."""

    signature: Signature | None = None
    header: RequestHeader | CallbackHeader
    message: dict[str, Any]


class Pagination(WireModel):
    """Paging of a response (api/pagination)."""

    page_size: Integer = Field(ge=1)
    page_number: Integer = Field(ge=1)
    total_count: Integer = Field(ge=0)


class PaginationRequest(WireModel):
    """Paging asked for in a request (api/pagination_request)."""

    page_size: Integer = Field(ge=1, le=1000)
    page_number: Integer | None = Field(default=None, ge=1)


class SortItem(WireModel):
    """One sort key (api/search_sort item)."""

    attribute_name: QueryAttribute
    sort_order: Literal["asc", "desc"]


class Purpose(WireModel):
    """Why data is requested (api/purpose)."""

    text: Annotated[str, StringConstraints(max_length=999)] | None = None
    code: Annotated[str, StringConstraints(max_length=99)] | None = None
    ref_uri: Uri | None = None


class Consent(WireModel):
    """The data subject's consent (api/consent)."""

    context: str | dict[str, Any] | None = Field(default=None, alias="@context")
    type_: str | None = Field(default=None, alias="@type")
    ts: ApiDateTime | None = None
    purpose: Purpose | None = None


class Authorize(Consent):
    """The authority under which data is requested (api/authorize)."""


class QueryIdtypeValue(WireModel):
    """Query by identifier type and value (api/query_idtype_value)."""

    type: IdentifierTypeCode
    value: Text99


class QueryExpression(WireModel):
    """An implementer-defined query expression (api/query_expression)."""

    type: Text99 | None = None
    value: dict[str, Any]


AttributeScalar = Annotated[str, StringConstraints(max_length=999)] | int | float | bool


class QueryExpressionPredicate(WireModel):
    """`attribute operator value` (api/query_expression_predicate)."""

    attribute_name: QueryAttribute
    operator: Literal["gt", "lt", "eq", "ge", "le", "in"]
    attribute_value: (
        AttributeScalar | Annotated[list[str | int | float], Field(min_length=1, max_length=1000)]
    )


class QueryPredicateItem(WireModel):
    """One step of a predicate query (api/query_predicate item)."""

    seq_num: Integer | None = Field(default=None, ge=1)
    expression1: QueryExpressionPredicate
    condition: Literal["and", "or", "not"] | None = None
    expression2: QueryExpressionPredicate | None = None

    @model_validator(mode="after")
    def _condition_with_second(self) -> QueryPredicateItem:
        if self.expression2 is not None and self.condition is None:
            raise ValueError("expression2 requires condition (dependentRequired)")
        return self


QueryPredicate = Annotated[list[QueryPredicateItem], Field(min_length=1, max_length=50)]
