"""The IBR-side operations; defined host-agnostically in ``ibr_service.security.operations``."""

from ibr_service.security.operations import (
    ALL_OPERATIONS,
    ASYNC_SEARCH,
    ASYNC_TXN_STATUS,
    ENROLLED,
    ENROLLMENT_UPDATES,
    SUBSCRIBE,
    SYNC_SEARCH,
    SYNC_TXN_STATUS,
    UNSUBSCRIBE,
    Operation,
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
