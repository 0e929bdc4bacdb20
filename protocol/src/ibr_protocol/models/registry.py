"""Which model matches which schema: the table the equivalence tests and `ibr-spec` use."""

from __future__ import annotations

from pydantic import BaseModel

from ibr_protocol.models import api, data, envelopes, messages

MODEL_FOR_SCHEMA: dict[str, type[BaseModel]] = {
    "api/ack": api.Ack,
    "api/callback_header": api.CallbackHeader,
    "api/encrypted_message": api.EncryptedMessage,
    "api/envelope": api.Envelope,
    "api/error": api.Error,
    "api/pagination": api.Pagination,
    "api/pagination_request": api.PaginationRequest,
    "api/query_expression": api.QueryExpression,
    "api/query_expression_predicate": api.QueryExpressionPredicate,
    "api/query_idtype_value": api.QueryIdtypeValue,
    "api/request_header": api.RequestHeader,
    "api/envelope_enrolled_request": envelopes.EnrolledRequestEnvelope,
    "api/envelope_enrolled_response": envelopes.EnrolledResponseEnvelope,
    "api/envelope_enrollment_updates_request": envelopes.EnrollmentUpdatesRequestEnvelope,
    "api/envelope_enrollment_updates_response": envelopes.EnrollmentUpdatesResponseEnvelope,
    "api/envelope_notify_event_request": envelopes.NotifyEventRequestEnvelope,
    "api/envelope_search_request": envelopes.SearchRequestEnvelope,
    "api/envelope_search_response": envelopes.SearchResponseEnvelope,
    "api/envelope_subscribe_request": envelopes.SubscribeRequestEnvelope,
    "api/envelope_subscribe_response": envelopes.SubscribeResponseEnvelope,
    "api/envelope_txn_status_request": envelopes.TxnStatusRequestEnvelope,
    "api/envelope_txn_status_response": envelopes.TxnStatusResponseEnvelope,
    "api/envelope_unsubscribe_request": envelopes.UnsubscribeRequestEnvelope,
    "api/envelope_unsubscribe_response": envelopes.UnsubscribeResponseEnvelope,
    "data/address": data.Address,
    "data/attribute_name_value": data.AttributeNameValue,
    "data/beneficiary": data.Beneficiary,
    "data/benefit": data.Benefit,
    "data/benefit_frequency": data.BenefitFrequency,
    "data/disability_info": data.DisabilityInfo,
    "data/disbursement": data.Disbursement,
    "data/geo_location": data.GeoLocation,
    "data/group": data.Group,
    "data/identifier": data.Identifier,
    "data/member": data.Member,
    "data/money": data.Money,
    "data/name": data.Name,
    "data/person": data.Person,
    "data/programme": data.Programme,
    "data/programme_enrolment": data.ProgrammeEnrolment,
    "data/related_person": data.RelatedPerson,
    "messages/enrolled_request": messages.EnrolledRequest,
    "messages/enrolled_response": messages.EnrolledResponse,
    "messages/enrollment_updates_request": messages.EnrollmentUpdatesRequest,
    "messages/enrollment_updates_response": messages.EnrollmentUpdatesResponse,
    "messages/enrolment_update_item": messages.EnrolmentUpdateItem,
    "messages/notify_event_request": messages.NotifyEventRequest,
    "messages/search_request": messages.SearchRequest,
    "messages/search_response": messages.SearchResponse,
    "messages/subscribe_request": messages.SubscribeRequest,
    "messages/subscribe_response": messages.SubscribeResponse,
    "messages/subscription_info": messages.SubscriptionInfo,
    "messages/txn_status_request": messages.TxnStatusRequest,
    "messages/txn_status_response": messages.TxnStatusResponse,
    "messages/unsubscribe_request": messages.UnsubscribeRequest,
    "messages/unsubscribe_response": messages.UnsubscribeResponse,
}


def model_for_schema(schema: str) -> type[BaseModel] | None:
    """The model that matches a schema name, or None when the schema has no model."""
    return MODEL_FOR_SCHEMA.get(schema)
