"""Prometheus metrics of one IBR process (served at ``GET /metrics``), and the refusal log.

Counters and histograms live in the process's default registry: with several workers each
reports its own, and Prometheus sums them (label ``instance``). Labels carry operations, codes
and outcomes only, never a sender's data.

A refused request is also written as one JSON line to the ``ibr.refusals`` logger (IBR-SEC-007):
sender_id, message_id, operation, code, reason, HTTP status; never a value from the body.
"""

from __future__ import annotations

import json
import logging

from prometheus_client import Counter, Histogram

__all__ = [
    "INGEST_ITEMS",
    "OUTBOX_DELIVERIES",
    "REFUSALS",
    "REQUESTS",
    "REQUEST_SECONDS",
    "log_refusal",
]

REQUESTS = Counter(
    "ibr_requests_total", "HTTP requests answered", ["operation", "method", "status"]
)
REQUEST_SECONDS = Histogram("ibr_request_seconds", "Time to answer an HTTP request", ["operation"])
REFUSALS = Counter(
    "ibr_refusals_total", "Requests refused with an ERR or RFC 6749 error", ["operation", "code"]
)
OUTBOX_DELIVERIES = Counter(
    "ibr_outbox_deliveries_total", "Callback delivery attempts", ["kind", "outcome"]
)
OUTBOX_SECONDS = Histogram("ibr_outbox_delivery_seconds", "Time of one callback POST", ["kind"])
INGEST_ITEMS = Counter(
    "ibr_ingest_items_total", "Beneficiaries received in enrolment updates", ["status"]
)

_refusal_log = logging.getLogger("ibr.refusals")


def log_refusal(
    *,
    operation: str,
    code: str,
    reason: str,
    status: int,
    sender_id: str | None = None,
    message_id: str | None = None,
    field: str | None = None,
) -> None:
    """Count a refusal and write it as one JSON line (WARNING) without any personal data."""
    REFUSALS.labels(operation=operation, code=code).inc()
    record = {
        "event": "request.refused",
        "operation": operation,
        "code": code,
        "reason": reason,
        "status": status,
        "sender_id": sender_id,
        "message_id": message_id,
        "field": field,
    }
    _refusal_log.warning(json.dumps(record, ensure_ascii=True))
