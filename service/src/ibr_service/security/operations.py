"""The IBR-side operations this host serves: path, schemas, scope and response action of each."""

from __future__ import annotations

from dataclasses import dataclass

from ibr_service.security.clients import (
    SCOPE_ENROLLED,
    SCOPE_ENROLLMENT,
    SCOPE_SEARCH,
    SCOPE_SUBSCRIBE,
    SCOPE_TXN,
    SCOPE_UNSUBSCRIBE,
)

__all__ = [
    "ALL_OPERATIONS",
    "ASYNC_SEARCH",
    "ASYNC_TXN_STATUS",
    "ENROLLED",
    "ENROLLMENT_UPDATES",
    "SUBSCRIBE",
    "SYNC_SEARCH",
    "SYNC_TXN_STATUS",
    "UNSUBSCRIBE",
    "Operation",
]


@dataclass(frozen=True)
class Operation:
    """One IBR-side operation."""

    path: str
    """Below the `/registry` (or `/ibr`) prefix, e.g. `/sync/search`."""
    action: str
    """The `header.action` of the request (also what `accept_async` is given)."""
    request_schema: str
    """The whole-envelope schema under spec/schemas/."""
    message_schema: str
    """The plaintext message schema (checked again after decrypting an encrypted message)."""
    scope: str
    is_async: bool
    response_action: str | None = None
    callback_path: str | None = None
    """Async only: the SP-MIS path its callback goes to under a registered base URL (IBR-CB-001)."""
    """Sync only: the `header.action` of the response envelope."""
    response_schema: str | None = None
    accepts_file: bool = False


ENROLLMENT_UPDATES = Operation(
    path="/sync/enrollment/updates",
    action="notify",
    request_schema="api/envelope_enrollment_updates_request",
    message_schema="messages/enrollment_updates_request",
    scope=SCOPE_ENROLLMENT,
    is_async=False,
    response_action="notify",
    response_schema="api/envelope_enrollment_updates_response",
    accepts_file=True,
)
ENROLLED = Operation(
    path="/sync/enrolled",
    action="search",
    request_schema="api/envelope_enrolled_request",
    message_schema="messages/enrolled_request",
    scope=SCOPE_ENROLLED,
    is_async=False,
    response_action="on-search",
    response_schema="api/envelope_enrolled_response",
)
SYNC_SEARCH = Operation(
    path="/sync/search",
    action="search",
    request_schema="api/envelope_search_request",
    message_schema="messages/search_request",
    scope=SCOPE_SEARCH,
    is_async=False,
    response_action="on-search",
    response_schema="api/envelope_search_response",
)
SYNC_TXN_STATUS = Operation(
    path="/sync/txn/status",
    action="txn-status",
    request_schema="api/envelope_txn_status_request",
    message_schema="messages/txn_status_request",
    scope=SCOPE_TXN,
    is_async=False,
    response_action="txn-on-status",
    response_schema="api/envelope_txn_status_response",
)
ASYNC_SEARCH = Operation(
    path="/search",
    action="search",
    request_schema="api/envelope_search_request",
    message_schema="messages/search_request",
    scope=SCOPE_SEARCH,
    is_async=True,
    callback_path="/registry/on-search",
)
SUBSCRIBE = Operation(
    path="/subscribe",
    action="subscribe",
    request_schema="api/envelope_subscribe_request",
    message_schema="messages/subscribe_request",
    scope=SCOPE_SUBSCRIBE,
    is_async=True,
    callback_path="/registry/on-subscribe",
)
UNSUBSCRIBE = Operation(
    path="/unsubscribe",
    action="unsubscribe",
    request_schema="api/envelope_unsubscribe_request",
    message_schema="messages/unsubscribe_request",
    scope=SCOPE_UNSUBSCRIBE,
    is_async=True,
    callback_path="/registry/on-unsubscribe",
)
ASYNC_TXN_STATUS = Operation(
    path="/txn/status",
    action="txn-status",
    request_schema="api/envelope_txn_status_request",
    message_schema="messages/txn_status_request",
    scope=SCOPE_TXN,
    is_async=True,
    callback_path="/registry/txn/on-status",
)

ALL_OPERATIONS: tuple[Operation, ...] = (
    ENROLLMENT_UPDATES,
    ENROLLED,
    SYNC_SEARCH,
    SYNC_TXN_STATUS,
    ASYNC_SEARCH,
    SUBSCRIBE,
    UNSUBSCRIBE,
    ASYNC_TXN_STATUS,
)
