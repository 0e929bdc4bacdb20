"""Canonical probe messages and helpers for reading a target's answers.

The probes follow spec/CONVENTIONS.md; a self-test validates each against its schema in spec/,
so a drift between the suite and the spec fails the suite's own CI.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ibr_conformance.results import Exchange
from ibr_protocol import SchemaValidationError, SpecError, validate

__all__ = [
    "ZONED_TS",
    "ack_message",
    "beneficiary",
    "body_of",
    "enrolled_request",
    "enrollment_updates_request",
    "error_code",
    "fresh_id",
    "is_rejected",
    "items",
    "message_of",
    "predicate_search_request",
    "records",
    "schema_problems",
    "search_request",
    "subscribe_request",
    "txn_status_request",
    "unsubscribe_request",
]

ZONED_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _ref() -> str:
    return str(uuid.uuid4())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def search_request(
    identifier: str = "CONF-0000000001",
    *,
    page_size: int = 10,
    page_number: int = 1,
    identifier_type: str = "NID",
) -> dict[str, Any]:
    """A search by identifier (idtype-value query)."""
    return {
        "transaction_id": _ref(),
        "search_request": [
            {
                "reference_id": _ref(),
                "timestamp": _now(),
                "search_criteria": {
                    "query_type": "idtype-value",
                    "query": {"type": identifier_type, "value": identifier},
                    "pagination": {"page_size": page_size, "page_number": page_number},
                },
            }
        ],
    }


def enrolled_request(identifier: str = "CONF-0000000001") -> dict[str, Any]:
    """Is the person with this identifier enrolled in any programme?"""
    return {
        "transaction_id": _ref(),
        "enrolled_criteria": {
            "query_type": "idtype-value",
            "query": {"type": "NID", "value": identifier},
        },
    }


def beneficiary(
    identifier: str, programme: str, *, status: str = "1", reference_id: str | None = None
) -> dict[str, Any]:
    """A minimal canonical individual beneficiary enrolled in `programme`."""
    return {
        **({"reference_id": reference_id} if reference_id else {}),
        "assistance_unit": "1",
        "member": {
            "member_identifier": [{"identifier_type": "NID", "identifier_value": identifier}],
            "demographic_info": {
                "identifier": [{"identifier_type": "NID", "identifier_value": identifier}],
                "name": {"given_name": "Conformance", "surname": "Probe"},
                "sex": "female",
                "birth_date": "1980-04-12",
            },
        },
        "programme_identifier": [
            {
                "programme": {"programme_identifier": programme, "programme_name": programme},
                "enrolment_date": "2024-05-01",
                "enrolment_status": status,
                "benefits": [
                    {
                        "benefit_id": f"B-{identifier}",
                        "benefit_type": "1",
                        "benefit_date": "2024-05-02",
                        "benefit_value": {"amount": "50.00", "currency": "USD"},
                    }
                ],
            }
        ],
    }


def enrollment_updates_request(
    beneficiaries: list[dict[str, Any]], *, receipt_type: str = "enrollment"
) -> dict[str, Any]:
    """A batch of enrolment updates (`receipt_type` enrollment or update)."""
    return {
        "transaction_id": _ref(),
        "enrolled_updates": {"receipt_type": receipt_type, "beneficiaries": beneficiaries},
    }


def subscribe_request(
    programme: str = "CONF-PROG", *, event: str = "enrollement_status_change"
) -> dict[str, Any]:
    """Subscribe to `event` on the beneficiaries of `programme` (predicate filter)."""
    return {
        "transaction_id": _ref(),
        "subscribe_request": [
            {
                "reference_id": _ref(),
                "timestamp": _now(),
                "subscribe_criteria": {
                    "version": "1.0.0",
                    "reg_type": "IBR",
                    "reg_event_type": event,
                    "filter_type": "predicate",
                    "filter": [
                        {
                            "seq_num": 1,
                            "expression1": {
                                "attribute_name": "programme_identifier",
                                "operator": "eq",
                                "attribute_value": programme,
                            },
                        }
                    ],
                    "notify_record_type": "Beneficiary",
                },
            }
        ],
    }


def unsubscribe_request(codes: list[str]) -> dict[str, Any]:
    return {"transaction_id": _ref(), "timestamp": _now(), "subscription_codes": codes}


def predicate_search_request(attribute: str, value: Any, *, operator: str = "eq") -> dict[str, Any]:
    """A search with one predicate expression."""
    return {
        "transaction_id": _ref(),
        "search_request": [
            {
                "reference_id": _ref(),
                "timestamp": _now(),
                "search_criteria": {
                    "query_type": "predicate",
                    "query": [
                        {
                            "seq_num": 1,
                            "expression1": {
                                "attribute_name": attribute,
                                "operator": operator,
                                "attribute_value": value,
                            },
                        }
                    ],
                },
            }
        ],
    }


def txn_status_request(transaction_id: str, *, txn_type: str = "search") -> dict[str, Any]:
    return {
        "transaction_id": _ref(),
        "txnstatus_request": {
            "reference_id": _ref(),
            "txn_type": txn_type,
            "attribute_type": "transaction_id",
            "attribute_value": transaction_id,
        },
    }


def fresh_id() -> str:
    """A national-id-like identifier no earlier run used."""
    return f"CONF-{uuid.uuid4().hex[:12].upper()}"


def body_of(exchange: Exchange) -> Mapping[str, Any]:
    body = exchange.response_body
    return body if isinstance(body, Mapping) else {}


def message_of(exchange: Exchange) -> Mapping[str, Any]:
    msg = body_of(exchange).get("message")
    return msg if isinstance(msg, Mapping) else {}


def items(exchange: Exchange, key: str) -> list[Mapping[str, Any]]:
    """The dict items of `message[key]` of a response (a list, or one object)."""
    raw = message_of(exchange).get(key)
    if isinstance(raw, Mapping):
        raw = [raw]
    return [i for i in raw if isinstance(i, Mapping)] if isinstance(raw, list) else []


def records(exchange_or_body: Exchange | Any) -> list[Mapping[str, Any]]:
    """Every reg_record of a search response (or callback body)."""
    body = (
        exchange_or_body.response_body
        if isinstance(exchange_or_body, Exchange)
        else exchange_or_body
    )
    msg = body.get("message") if isinstance(body, Mapping) else None
    out: list[Mapping[str, Any]] = []
    for item in (msg or {}).get("search_response", []) or []:
        data = item.get("data") if isinstance(item, Mapping) else None
        if isinstance(data, Mapping):
            out.extend(r for r in data.get("reg_records", []) or [] if isinstance(r, Mapping))
    return out


# -- reading answers ----------------------------------------------------------------------------


def schema_problems(instance: Any, schema: str) -> list[str] | None:
    """Violations of `schema` (empty = valid); None when spec/ has no such schema."""
    try:
        validate(instance, schema)
    except SchemaValidationError as exc:
        return [f"{e.path}: {e.message} [{e.keyword}]" for e in exc.errors]
    except (SpecError, FileNotFoundError, LookupError):
        return None
    return []


def ack_message(exchange: Exchange) -> Mapping[str, Any] | None:
    """The `message` of an ACK body, or None when the body is not ACK-shaped."""
    body = exchange.response_body
    if isinstance(body, Mapping) and isinstance(body.get("message"), Mapping):
        msg: Mapping[str, Any] = body["message"]
        if "ack_status" in msg:
            return msg
    return None


def error_code(exchange: Exchange) -> str | None:
    """The DCI error code of an ERR ACK or a rejecting response, if any."""
    msg = ack_message(exchange)
    if msg and isinstance(msg.get("error"), Mapping):
        return str(msg["error"].get("code"))
    body = exchange.response_body
    if isinstance(body, Mapping):
        header = body.get("header")
        if isinstance(header, Mapping) and header.get("status") == "rjct":
            return str(header.get("status_reason_code", ""))
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("code"))
    return None


def is_rejected(exchange: Exchange) -> bool:
    """The target refused the request: HTTP 4xx, an ERR ACK, or a `rjct` response header."""
    if exchange.status is not None and 400 <= exchange.status < 500:
        return True
    msg = ack_message(exchange)
    if msg and msg.get("ack_status") == "ERR":
        return True
    body = exchange.response_body
    return (
        isinstance(body, Mapping)
        and isinstance(body.get("header"), Mapping)
        and body["header"].get("status") == "rjct"
    )
