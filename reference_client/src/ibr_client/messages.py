"""Builders for the ``message`` of each standard request, in the canonical form of spec/.

Each builder takes plain Python values and returns a dict that validates against the matching
``spec/schemas/messages/*`` schema; the SDK validates it again before sending.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "as_wire",
    "enrolled_request",
    "enrollment_updates_request",
    "expression_query",
    "idtype_query",
    "predicate_query",
    "search_request",
    "subscribe_request",
    "txn_status_request",
    "unsubscribe_request",
]


_ITEM_NAMESPACE = uuid.UUID("0b6a7f6e-52c4-4a43-8f7e-2f4f3c1d9a10")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reference_id() -> str:
    return str(uuid.uuid4())


def as_wire(value: Any) -> dict[str, Any]:
    """A protocol model or a mapping as a canonical JSON dict (aliases, no ``None``)."""
    if hasattr(value, "model_dump"):
        dumped: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
    return dict(value)


Query = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One query: an object (``idtype-value``, ``expression``) or a list (``predicate``)."""


def idtype_query(identifier_type: str, identifier_value: str) -> dict[str, Any]:
    """An ``idtype-value`` query: the beneficiary whose identifier has this type and value."""
    return {"type": identifier_type, "value": identifier_value}


def expression_query(conditions: Mapping[str, Any]) -> dict[str, Any]:
    """An ``expression`` query from a map such as ``{"programme_identifier": {"eq": "OAP"}}``
    (``$and``/``$or``/``$not`` allowed), in DCI's QueryExpression form
    ``{"type": "expression", "value": {"expression": {"query": ...}}}``."""
    return {"type": "expression", "value": {"expression": {"query": dict(conditions)}}}


def predicate_query(*conditions: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ``predicate`` query: each ``{attribute_name, operator, attribute_value}`` condition
    becomes one item (``seq_num`` 1, 2, ...); all of them must hold."""
    return [
        {"seq_num": seq_num, "expression1": dict(condition)}
        for seq_num, condition in enumerate(conditions, start=1)
    ]


def _wire_query(query: Query) -> dict[str, Any] | list[dict[str, Any]]:
    # A predicate query is a list of items; dict() of it would fail.
    if isinstance(query, Mapping):
        return dict(query)
    return [dict(item) for item in query]


def enrollment_updates_request(
    transaction_id: str,
    beneficiaries: Sequence[Mapping[str, Any]],
    *,
    receipt_type: str = "enrollment",
) -> dict[str, Any]:
    """``sync/enrollment/updates``: enrolments, benefits and status changes of beneficiaries.

    ``receipt_type`` is ``enrollment`` (new enrolments, benefits) or ``update`` (changes to
    known ones: status changes, deaths). Each item gets a ``reference_id`` (derived from the
    transaction, so a resent batch carries the same ids) unless it has one already; the IBR's
    per-item answers quote it.
    """
    items = []
    for index, beneficiary in enumerate(beneficiaries):
        item = as_wire(beneficiary)
        item.setdefault(
            "reference_id", str(uuid.uuid5(_ITEM_NAMESPACE, f"{transaction_id}:{index}"))
        )
        items.append(item)
    return {
        "transaction_id": transaction_id,
        "enrolled_updates": {"receipt_type": receipt_type, "beneficiaries": items},
    }


def enrolled_request(
    transaction_id: str,
    queries: Sequence[Query],
    *,
    query_type: str = "idtype-value",
    response_entity: str = "Member",
) -> dict[str, Any]:
    """``sync/enrolled``: is this person (or group) enrolled? One query is sent as the DCI
    single object, several (a bulk check, up to 100) as a list; each has a ``reference_id``.
    """
    criteria = [
        {
            "reference_id": _reference_id(),
            "query_type": query_type,
            "response_entity": response_entity,
            "query": _wire_query(query),
        }
        for query in queries
    ]
    return {
        "transaction_id": transaction_id,
        "enrolled_criteria": criteria[0] if len(criteria) == 1 else criteria,
    }


def search_request(
    transaction_id: str,
    queries: Iterable[Query],
    *,
    query_type: str = "idtype-value",
    page_size: int | None = None,
    page_number: int = 1,
) -> dict[str, Any]:
    """``search`` / ``sync/search``: one search item per query (a bulk search when several);
    with ``query_type="predicate"`` each query is a list of predicate items."""
    items = []
    for query in queries:
        criteria: dict[str, Any] = {"query_type": query_type, "query": _wire_query(query)}
        if page_size is not None:
            criteria["pagination"] = {"page_size": page_size, "page_number": page_number}
        items.append(
            {"reference_id": _reference_id(), "timestamp": _now(), "search_criteria": criteria}
        )
    return {"transaction_id": transaction_id, "search_request": items}


def subscribe_request(
    transaction_id: str,
    *,
    reg_event_type: str,
    filter_: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    filter_type: str = "expression",
    notify_record_type: str = "Beneficiary",
    frequency: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``subscribe``: be notified when ``reg_event_type`` happens to matching records."""
    criteria: dict[str, Any] = {
        "reg_event_type": reg_event_type,
        "filter_type": filter_type,
        "filter": dict(filter_)
        if isinstance(filter_, Mapping)
        else [dict(item) for item in filter_],
        "notify_record_type": notify_record_type,
    }
    if frequency is not None:
        criteria["frequency"] = dict(frequency)
    return {
        "transaction_id": transaction_id,
        "subscribe_request": [
            {"reference_id": _reference_id(), "timestamp": _now(), "subscribe_criteria": criteria}
        ],
    }


def unsubscribe_request(transaction_id: str, subscription_codes: Sequence[str]) -> dict[str, Any]:
    """``unsubscribe``: end these subscriptions."""
    return {
        "transaction_id": transaction_id,
        "timestamp": _now(),
        "subscription_codes": list(subscription_codes),
    }


def txn_status_request(
    transaction_id: str, of_transaction_id: str, *, txn_type: str = "search"
) -> dict[str, Any]:
    """``txn/status``: what happened to the earlier transaction ``of_transaction_id``?"""
    return {
        "transaction_id": transaction_id,
        "txnstatus_request": {
            "reference_id": _reference_id(),
            "txn_type": txn_type,
            "attribute_type": "transaction_id",
            "attribute_value": of_transaction_id,
        },
    }
