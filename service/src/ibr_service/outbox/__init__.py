"""The outbox dispatcher: delivers callbacks (on-search, on-subscribe, notify, ...) durably."""

from ibr_service.outbox.backoff import retry_delay
from ibr_service.outbox.dispatcher import DispatchReport, OutboxDispatcher

__all__ = ["DispatchReport", "OutboxDispatcher", "retry_delay"]
