"""The `message` of every request and response (`spec/schemas/messages`).

Where a schema picks the shape of one field from another (`query` by `query_type`,
`attribute_value` by `attribute_type`, `txn_status` by `txn_type`), the model keeps the raw
value and checks it against the right model in a validator, as the schema's if/then does.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ibr_protocol.models._base import ApiDateTime, Date, Text99, Text999, WireModel, unique_items
from ibr_protocol.models.api import (
    Authorize,
    Consent,
    Locale,
    Pagination,
    PaginationRequest,
    QueryExpression,
    QueryExpressionPredicate,
    QueryIdtypeValue,
    QueryPredicate,
    QueryType,
    RegistryEventType,
    RegistryRecordType,
    RegistryType,
    RequestStatus,
    SortItem,
    Version,
)
from ibr_protocol.models.data import Beneficiary, ProgrammeEnrolment


def _check_shape(value: Any, adapter: TypeAdapter[Any], field: str, because: str) -> None:
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or field}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ValueError(f"{field} does not match {because}: {details}") from None


_SEARCH_QUERY: dict[str, TypeAdapter[Any]] = {
    "idtype-value": TypeAdapter(QueryIdtypeValue),
    "expression": TypeAdapter(QueryExpression),
    "predicate": TypeAdapter(QueryPredicate),
}
_ENROLLED_QUERY: dict[str, TypeAdapter[Any]] = {
    "idtype-value": TypeAdapter(QueryIdtypeValue),
    "expression": TypeAdapter(QueryExpressionPredicate),
    "predicate": TypeAdapter(QueryPredicate),
}


def _reject_if_status(status: str, reason: object | None) -> None:
    if status == "rjct" and reason is None:
        raise ValueError("status rjct requires status_reason_code (if/then)")


# --- search -----------------------------------------------------------------------------


class SearchCriteria(WireModel):
    """What to search for; `query` takes the shape named by `query_type`."""

    version: Version | None = None
    reg_type: RegistryType | None = None
    reg_record_type: RegistryRecordType | None = None
    query_type: QueryType
    query: Any
    sort: list[SortItem] | None = None
    pagination: PaginationRequest | None = None
    consent: Consent | None = None
    authorize: Authorize | None = None
    as_of: Date | None = None
    """Extension (DEV-API-51): enrolment conditions on each enrolment's state on this date."""

    @model_validator(mode="after")
    def _query_shape(self) -> SearchCriteria:
        _check_shape(self.query, _SEARCH_QUERY[self.query_type], "query", self.query_type)
        return self


class SearchRequestItem(WireModel):
    """One search in a search request."""

    reference_id: Text99
    timestamp: ApiDateTime
    search_criteria: SearchCriteria
    locale: Locale | None = None


class SearchRequest(WireModel):
    """messages/search_request."""

    transaction_id: Text99
    search_request: Annotated[list[SearchRequestItem], Field(min_length=1, max_length=100)]


SearchStatusReasonCode = Literal[
    "rjct.reference_id.invalid",
    "rjct.reference_id.duplicate",
    "rjct.timestamp.invalid",
    "rjct.search_criteria.invalid",
    "rjct.filter.invalid",
    "rjct.sort.invalid",
    "rjct.pagination.invalid",
    "rjct.search.too_many_records_found",
]


class SearchData(WireModel):
    """The records found."""

    version: Version | None = None
    reg_type: RegistryType | None = None
    reg_record_type: RegistryRecordType | None = None
    reg_records: list[Beneficiary]


class SearchResponseItem(WireModel):
    """The answer to one search."""

    reference_id: Text99
    timestamp: ApiDateTime
    status: RequestStatus
    status_reason_code: SearchStatusReasonCode | None = None
    status_reason_message: Text999 | None = None
    data: SearchData | None = None
    pagination: Pagination | None = None
    locale: Locale | None = None

    @model_validator(mode="after")
    def _status_rules(self) -> SearchResponseItem:
        _reject_if_status(self.status, self.status_reason_code)
        if self.status == "succ" and self.data is None:
            raise ValueError("status succ requires data (if/then)")
        return self


class SearchResponse(WireModel):
    """messages/search_response."""

    transaction_id: Text99
    correlation_id: Text99
    search_response: Annotated[list[SearchResponseItem], Field(min_length=1)]


# --- enrolled ---------------------------------------------------------------------------


class EnrolledCriteria(WireModel):
    """Who to check; `query` takes the shape named by `query_type`."""

    reference_id: Text99 | None = None
    query_type: QueryType
    response_entity: Literal["Beneficiary", "Member", "Group"] | None = None
    query: Any

    @model_validator(mode="after")
    def _query_shape(self) -> EnrolledCriteria:
        _check_shape(self.query, _ENROLLED_QUERY[self.query_type], "query", self.query_type)
        return self


class EnrolledRequest(WireModel):
    """messages/enrolled_request: one criteria object, or a list of up to 100."""

    transaction_id: Text99
    enrolled_criteria: (
        EnrolledCriteria | Annotated[list[EnrolledCriteria], Field(min_length=1, max_length=100)]
    )


EnrolledStatusReasonCode = Literal[
    "rjct.reference_id.duplicate",
    "rjct.enrolled_criteria.invalid",
    "rjct.programme.unknown",
    "rjct.search.too_many_records_found",
]


class EnrolledResponseItem(WireModel):
    """The answer for one criteria: enrolled or not, and the enrolments."""

    reference_id: Text99
    timestamp: ApiDateTime
    status: RequestStatus
    status_reason_code: EnrolledStatusReasonCode | None = None
    status_reason_message: Text999 | None = None
    enrolled_status: Literal["yes", "no"] | None = None
    enrolments: list[ProgrammeEnrolment] | None = None

    @model_validator(mode="after")
    def _status_rules(self) -> EnrolledResponseItem:
        _reject_if_status(self.status, self.status_reason_code)
        if self.status == "succ" and self.enrolled_status is None:
            raise ValueError("status succ requires enrolled_status (if/then)")
        return self


class EnrolledResponse(WireModel):
    """messages/enrolled_response."""

    transaction_id: Text99
    correlation_id: Text99
    enrolled_response: Annotated[list[EnrolledResponseItem], Field(min_length=1)]


# --- enrollment updates -----------------------------------------------------------------


class EnrolmentUpdateItem(Beneficiary):
    """A beneficiary sent in an enrollment update, with the sender's reference id."""

    reference_id: Text99 | None = None


class EnrolledUpdates(WireModel):
    """The beneficiaries of an enrollment update."""

    receipt_type: Literal["enrollment", "update"] | None = None
    beneficiaries: Annotated[list[EnrolmentUpdateItem], Field(min_length=1, max_length=1000)]


class EnrollmentUpdatesRequest(WireModel):
    """messages/enrollment_updates_request."""

    transaction_id: Text99
    enrolled_updates: EnrolledUpdates


EnrolmentUpdateReasonCode = Literal[
    "rjct.reference_id.duplicate",
    "rjct.beneficiary.invalid",
    "rjct.beneficiary.not_found",
    "rjct.programme.unknown",
    "rjct.programme.not_allowed",
    "rjct.enrolment_status.invalid",
    "rjct.reference_id.invalid",
    "succ.overlap.detected",
]


class EnrollmentUpdateResult(WireModel):
    """The result for one beneficiary of an update."""

    reference_id: Text99
    timestamp: ApiDateTime
    status: RequestStatus
    status_reason_code: EnrolmentUpdateReasonCode | None = None
    status_reason_message: Text999 | None = None

    @model_validator(mode="after")
    def _status_rules(self) -> EnrollmentUpdateResult:
        _reject_if_status(self.status, self.status_reason_code)
        return self


class EnrollmentUpdatesResponse(WireModel):
    """messages/enrollment_updates_response."""

    transaction_id: Text99
    correlation_id: Text99
    enrolled_response: Annotated[list[EnrollmentUpdateResult], Field(min_length=1)]


# --- subscribe, notify, unsubscribe -----------------------------------------------------

Cron = Annotated[str, StringConstraints(min_length=9, max_length=120)]


class NotificationFrequency(WireModel):
    """When notifications are wanted (cron expression between two instants)."""

    start_time: ApiDateTime
    end_time: ApiDateTime
    frequency: Cron


class _Filtered(WireModel):
    filter_type: QueryType | None = None
    filter: Any = None
    _filter_type_inferred: ClassVar[bool] = False
    """True where an absent filter_type is inferred from the filter (C-SUBSCRIBE-FILTER)."""

    @model_validator(mode="after")
    def _filter_shape(self) -> _Filtered:
        if (
            self.filter_type is None
            and "filter" in self.model_fields_set
            and not self._filter_type_inferred
        ):
            raise ValueError("filter requires filter_type (if/then)")
        if self.filter_type is not None and "filter" in self.model_fields_set:
            _check_shape(self.filter, _SEARCH_QUERY[self.filter_type], "filter", self.filter_type)
        return self


class SubscribeCriteria(_Filtered):
    """What to be notified of."""

    version: Version | None = None
    reg_type: RegistryType | None = None
    reg_event_type: RegistryEventType | Literal["REGISTER", "UPDATE", "DEREGISTER", "DELETE"]
    frequency: NotificationFrequency | None = None
    filter_type: QueryType | None = None
    filter: Any
    notify_record_type: RegistryRecordType
    _filter_type_inferred: ClassVar[bool] = True
    authorize: Authorize | None = None


class SubscribeRequestItem(WireModel):
    """One subscription asked for."""

    reference_id: Text99
    timestamp: ApiDateTime
    subscribe_criteria: SubscribeCriteria
    locale: Locale | None = None


class SubscribeRequest(WireModel):
    """messages/subscribe_request."""

    transaction_id: Text99
    subscribe_request: Annotated[list[SubscribeRequestItem], Field(min_length=1, max_length=100)]


SubscriptionStatus = Literal["subscribe", "unsubscribe"]


class SubscriptionInfo(_Filtered):
    """messages/subscription_info: a subscription as the registry holds it."""

    version: Version | None = None
    code: Text99
    status: SubscriptionStatus
    timestamp: ApiDateTime
    reg_type: RegistryType | None = None
    reg_event_type: RegistryEventType | None = None
    frequency: NotificationFrequency | None = None
    notify_record_type: RegistryRecordType | None = None
    locale: Locale | None = None


SubscribeStatusReasonCode = Literal[
    "rjct.reference_id.invalid",
    "rjct.reference_id.duplicate",
    "rjct.timestamp.invalid",
    "rjct.notify_types.invalid",
    "rjct.notify_details.invalid",
    "rjct.person_id.invalid",
    "rjct.event.already_subscribed",
]


class SubscribeResponseItem(WireModel):
    """The answer to one subscription request."""

    reference_id: Text99
    timestamp: ApiDateTime
    status: RequestStatus
    status_reason_code: SubscribeStatusReasonCode | None = None
    status_reason_message: Text999 | None = None
    subscriptions: list[SubscriptionInfo] | None = None
    pagination: Pagination | None = None
    locale: Locale | None = None

    @model_validator(mode="after")
    def _status_rules(self) -> SubscribeResponseItem:
        _reject_if_status(self.status, self.status_reason_code)
        return self


class SubscribeResponse(WireModel):
    """messages/subscribe_response."""

    transaction_id: Text99
    correlation_id: Text99
    subscribe_response: Annotated[list[SubscribeResponseItem], Field(min_length=1)]


class NotifyData(WireModel):
    """The records an event concerns."""

    version: Version | None = None
    reg_type: RegistryType | None = None
    reg_event_type: RegistryEventType
    reg_record_type: RegistryRecordType
    reg_records: Annotated[list[Beneficiary], Field(min_length=1)]


class NotifyEvent(WireModel):
    """One event sent to a subscriber."""

    reference_id: Text99
    timestamp: ApiDateTime
    subscription_code: Text99 | None = None
    data: NotifyData
    locale: Locale | None = None


class NotifyEventRequest(WireModel):
    """messages/notify_event_request."""

    transaction_id: Text99
    notify_event: Annotated[list[NotifyEvent], Field(min_length=1)]


class UnsubscribeRequest(WireModel):
    """messages/unsubscribe_request."""

    transaction_id: Text99
    timestamp: ApiDateTime
    subscription_codes: Annotated[
        list[Text99], Field(min_length=1, max_length=100), AfterValidator(unique_items)
    ]


UnsubscribeStatusReasonCode = Literal[
    "rjct.reference_id.invalid",
    "rjct.reference_id.duplicate",
    "rjct.timestamp.invalid",
    "rjct.subscription_code.invalid",
    "rjct.requester.invalid",
    "rjct.event.already_unsubscribed",
]


class SubscriptionStatusItem(WireModel):
    """The state of one subscription after an unsubscribe."""

    code: Text99
    status: SubscriptionStatus


class UnsubscribeResponse(WireModel):
    """messages/unsubscribe_response."""

    transaction_id: Text99
    correlation_id: Text99
    timestamp: ApiDateTime
    status: RequestStatus
    status_reason_code: UnsubscribeStatusReasonCode | None = None
    status_reason_message: Text999 | None = None
    subscription_status: list[SubscriptionStatusItem] | None = None

    @model_validator(mode="after")
    def _status_rules(self) -> UnsubscribeResponse:
        _reject_if_status(self.status, self.status_reason_code)
        return self


# --- transaction status -----------------------------------------------------------------

_REFERENCE_ID_LIST: TypeAdapter[Any] = TypeAdapter(
    Annotated[list[Text99], Field(min_length=1, max_length=1000)]
)
_TRANSACTION_ID: TypeAdapter[Any] = TypeAdapter(Text99)


class TxnStatusQuery(WireModel):
    """Which earlier transaction to report on."""

    reference_id: Text99
    txn_type: Literal["search", "subscribe", "receipt"]
    attribute_type: Literal["transaction_id", "reference_id_list", "correlation_id"]
    attribute_value: Any
    locale: Locale | None = None

    @model_validator(mode="after")
    def _value_shape(self) -> TxnStatusQuery:
        if self.attribute_type == "reference_id_list":
            _check_shape(self.attribute_value, _REFERENCE_ID_LIST, "attribute_value", "a list")
        else:
            _check_shape(self.attribute_value, _TRANSACTION_ID, "attribute_value", "an id")
        return self


class TxnStatusRequest(WireModel):
    """messages/txn_status_request."""

    transaction_id: Text99
    txnstatus_request: TxnStatusQuery


_TXN_STATUS: dict[str, TypeAdapter[Any]] = {
    "search": TypeAdapter(SearchResponse),
    "subscribe": TypeAdapter(SubscribeResponse),
    "receipt": TypeAdapter(EnrollmentUpdatesResponse),
}


class TxnStatusResult(WireModel):
    """The status of the transaction, as the response it produced."""

    txn_type: Literal["search", "subscribe", "receipt"]
    txn_status: Any = None

    @model_validator(mode="after")
    def _status_shape(self) -> TxnStatusResult:
        if "txn_status" in self.model_fields_set:
            _check_shape(self.txn_status, _TXN_STATUS[self.txn_type], "txn_status", self.txn_type)
        return self


class TxnStatusResponse(WireModel):
    """messages/txn_status_response."""

    transaction_id: Text99
    correlation_id: Text99
    txnstatus_response: TxnStatusResult
