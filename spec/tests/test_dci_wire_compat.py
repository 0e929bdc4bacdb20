"""Wire compatibility with DCI IBR v1.0.0: every refusal of a DCI-conformant message is logged.

Each case below is a small message written to the DCI OpenAPI schemas (required members and
DCI's own example values; no DCI file is copied). It is normalised with
`ibr_protocol.normalise_envelope` and validated against our canonical envelope schema, as a
receiver does. A case either must be accepted, or must be refused *and* name the row of
DEVIATIONS.md that justifies the refusal. The log is thereby kept true in both directions: a new
refusal without a row fails, and so does a row that claims a refusal the normaliser no longer
makes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ibr_protocol import IbrProtocolError, SchemaValidationError, normalise_envelope, validate

SPEC = Path(__file__).resolve().parents[1]
TS = "2025-01-01T10:00:00Z"
ACCEPTED = "accepted"


def _request(action: str, message: dict[str, Any], **header: Any) -> dict[str, Any]:
    """A DCI MsgHeader_V1.0.0 envelope with only the required header members."""
    base = {
        "message_id": "123",
        "message_ts": TS,
        "action": action,
        "sender_id": "spmis.example.org",
        "total_count": 1,
    }
    return {"header": {**base, **header}, "message": message}


def _callback(action: str, message: dict[str, Any], **header: Any) -> dict[str, Any]:
    """A DCI MsgCallbackHeader_V1.0.0 envelope (plus `sender_id`, which we require: DEV-API-25)."""
    base = {
        "message_id": "789",
        "message_ts": TS,
        "action": action,
        "status": "succ",
        "sender_id": "ibr.example.org",
    }
    return {"header": {**base, **header}, "message": message}


def _search(criteria: dict[str, Any], **item: Any) -> dict[str, Any]:
    entry = {"reference_id": "1", "timestamp": TS, "search_criteria": criteria, **item}
    return {"transaction_id": "0123456789", "search_request": [entry]}


def _idtype(kind: str = "UIN", value: Any = "12314567890") -> dict[str, Any]:
    return {"query_type": "idtype-value", "query": {"type": kind, "value": value}}


def _predicate(name: str, value: Any) -> dict[str, Any]:
    condition = {"attribute_name": name, "operator": "eq", "attribute_value": value}
    return {"query_type": "predicate", "query": [{"seq_num": 1, "expression1": condition}]}


def _subscribe(criteria: dict[str, Any]) -> dict[str, Any]:
    entry = {"reference_id": "1", "timestamp": TS, "subscribe_criteria": criteria}
    return {"transaction_id": "0123456789", "subscribe_request": [entry]}


def _beneficiary() -> dict[str, Any]:
    """The DCI sample's beneficiary shape, reduced to what identifies an enrolment."""
    return {
        "assistance_unit": "1",
        "member": {"member_identifier": [{"identifier_type": "UIN", "identifier_value": "1"}]},
        "programme_identifier": {
            "programme": {"programme_identifier": "DCI001", "programme_name": "Test Programme"},
            "enrolment_date": "2024-04-12",
            "enrolment_status": "Active",
        },
    }


def _search_response(**item: Any) -> dict[str, Any]:
    entry = {"reference_id": "1", "timestamp": TS, "status": "succ", **item}
    return {
        "transaction_id": "0123456789",
        "correlation_id": "9876543210",
        "search_response": [entry],
    }


def _notify(data: dict[str, Any]) -> dict[str, Any]:
    event = {"reference_id": "1", "timestamp": TS, "data": data}
    return {"transaction_id": "0123456789", "notify_event": [event]}


def _updates(header: dict[str, Any]) -> dict[str, Any]:
    message = {
        "transaction_id": "0123456789",
        "enrolled_updates": {"beneficiaries": [_beneficiary()]},
    }
    return {"header": header, "message": message}


@dataclass(frozen=True)
class Case:
    name: str
    operation: str
    schema: str
    envelope: dict[str, Any]
    expect: str
    """`accepted`, or the DEVIATIONS.md id that justifies the refusal."""


CASES = [
    # post_reg_search / post_reg_sync_search
    Case(
        "search_idtype_value",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_idtype())),
        ACCEPTED,
    ),
    Case(
        "search_expression_dci_example",
        "post_reg_sync_search",
        "api/envelope_search_request",
        _request(
            "search",
            _search(
                {
                    "query_type": "expression",
                    "query": {
                        "type": "ns:org:QueryType:expression",
                        "value": {
                            "expression": {
                                "collection": "Group",
                                "query": {"$and": [{"poverty_score": {"$lt": 5}}]},
                            }
                        },
                    },
                }
            ),
        ),
        ACCEPTED,
    ),
    Case(
        "search_idtype_numeric_value",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_idtype(value=12314567890))),
        "DEV-API-42",
    ),
    Case(
        "search_idtype_mobile",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_idtype(kind="MOBILE", value="0712345678"))),
        "DEV-API-42",
    ),
    Case(
        "search_predicate_dci_attribute_yob",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_predicate("YOB", "1980"))),
        ACCEPTED,  # the message; its item is refused on its own (DEV-API-31)
    ),
    Case(
        "search_predicate_dci_attribute_age",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_predicate("age", "25"))),
        ACCEPTED,  # C-QUERY-AGE: a birth_date comparison
    ),
    Case(
        "search_predicate_object_value",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_predicate("sex", {"eq": "female"}))),
        "DEV-API-43",
    ),
    Case(
        "search_page_size_2000",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search({**_idtype(), "pagination": {"page_size": 2000}})),
        "DEV-API-13",
    ),
    Case(
        "search_101_items",
        "post_reg_search",
        "api/envelope_search_request",
        _request(
            "search",
            {
                "transaction_id": "1",
                "search_request": [
                    {"reference_id": str(i), "timestamp": TS, "search_criteria": _idtype()}
                    for i in range(101)
                ],
            },
        ),
        "DEV-API-41",
    ),
    Case(
        "search_message_id_over_99",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_idtype()), message_id="m" * 100),
        "DEV-API-36",
    ),
    Case(
        "search_sftp_sender_uri",
        "post_reg_search",
        "api/envelope_search_request",
        _request("search", _search(_idtype()), sender_uri="sftp://spmis.example.org/in"),
        "DEV-API-22",
    ),
    Case(
        "search_prefixed_types_and_locale_en",
        "post_reg_search",
        "api/envelope_search_request",
        _request(
            "search",
            _search(
                {
                    **_idtype(),
                    "reg_type": "ns:org:RegistryType:IBR",
                    "reg_record_type": "spdci-extensions-dci:Member",
                },
                locale="en",
            ),
        ),
        ACCEPTED,
    ),
    # post_reg_on-search
    Case(
        "on_search_minimal",
        "post_reg_on-search",
        "api/envelope_search_response",
        _callback("on-search", _search_response(data={"reg_records": []})),
        ACCEPTED,
    ),
    Case(
        "on_search_without_sender_id",
        "post_reg_on-search",
        "api/envelope_search_response",
        _callback("on-search", _search_response(data={"reg_records": []}), sender_id=None),
        "DEV-API-25",
    ),
    Case(
        "on_search_rjct_without_reason",
        "post_reg_on-search",
        "api/envelope_search_response",
        _callback("on-search", _search_response(status="rjct")),
        "DEV-API-35",
    ),
    # post_reg_subscribe
    Case(
        "subscribe_full",
        "post_reg_subscribe",
        "api/envelope_subscribe_request",
        _request(
            "subscribe",
            _subscribe(
                {
                    "reg_type": "ns:org:RegistryType:IBR",
                    "reg_event_type": "spdci-common:RegistryEventType:enrollement",
                    "frequency": {
                        "start_time": TS,
                        "end_time": TS,
                        "frequency": "0 0 0 5,15 * ? *",
                    },
                    "filter_type": "idtype-value",
                    "filter": {"type": "UIN", "value": "1"},
                    "notify_record_type": "spdci-extensions-dci:Member",
                }
            ),
        ),
        ACCEPTED,
    ),
    Case(
        "subscribe_without_filter_type",
        "post_reg_subscribe",
        "api/envelope_subscribe_request",
        _request(
            "subscribe",
            _subscribe(
                {
                    "reg_event_type": "enrollement",
                    "filter": {"type": "UIN", "value": "1"},
                    "notify_record_type": "Member",
                }
            ),
        ),
        ACCEPTED,  # C-SUBSCRIBE-FILTER infers idtype-value
    ),
    Case(
        "subscribe_dci_event_type_register",
        "post_reg_subscribe",
        "api/envelope_subscribe_request",
        _request(
            "subscribe",
            _subscribe(
                {
                    "reg_event_type": "REGISTER",
                    "filter": {"type": "UIN", "value": "TEST-001"},
                    "notify_record_type": "Member",
                }
            ),
        ),
        ACCEPTED,  # C-SUBSCRIBE-EVENT: enrollement
    ),
    Case(
        "subscribe_registry_social",
        "post_reg_subscribe",
        "api/envelope_subscribe_request",
        _request(
            "subscribe",
            _subscribe(
                {
                    "reg_type": "ns:org:RegistryType:Social",
                    "reg_event_type": "enrollement",
                    "filter_type": "idtype-value",
                    "filter": {"type": "UIN", "value": "1"},
                    "notify_record_type": "Member",
                }
            ),
        ),
        "DEV-API-45",
    ),
    # post_reg_on-subscribe (DCI shows a request header)
    Case(
        "on_subscribe_request_header",
        "post_reg_on-subscribe",
        "api/envelope_subscribe_response",
        _request(
            "on-subscribe",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "subscribe_response": [
                    {
                        "reference_id": "1",
                        "timestamp": TS,
                        "status": "succ",
                        "subscriptions": [{"code": "S1", "status": "subscribe", "timestamp": TS}],
                    }
                ],
            },
            sender_id="ibr.example.org",
        ),
        ACCEPTED,
    ),
    # post_reg_notify
    Case(
        "notify_beneficiary",
        "post_reg_notify",
        "api/envelope_notify_event_request",
        _callback(
            "notify",
            _notify(
                {
                    "reg_event_type": "enrollement",
                    "reg_record_type": "Beneficiary",
                    "reg_records": _beneficiary(),
                }
            ),
        ),
        ACCEPTED,
    ),
    Case(
        "notify_without_event_type",
        "post_reg_notify",
        "api/envelope_notify_event_request",
        _callback(
            "notify", _notify({"reg_record_type": "Beneficiary", "reg_records": _beneficiary()})
        ),
        "DEV-API-10",
    ),
    Case(
        "notify_member_record",
        "post_reg_notify",
        "api/envelope_notify_event_request",
        _callback(
            "notify",
            _notify(
                {
                    "reg_event_type": "enrollement",
                    "reg_record_type": "Member",
                    "reg_records": {
                        "member_identifier": [{"identifier_type": "UIN", "identifier_value": "1"}]
                    },
                }
            ),
        ),
        "DEV-API-10",
    ),
    # post_reg_unsubscribe / post_reg_on-unsubscribe
    Case(
        "unsubscribe",
        "post_reg_unsubscribe",
        "api/envelope_unsubscribe_request",
        _request(
            "unsubscribe",
            {"transaction_id": "0123456789", "timestamp": TS, "subscription_codes": ["S1"]},
        ),
        ACCEPTED,
    ),
    Case(
        "unsubscribe_no_codes",
        "post_reg_unsubscribe",
        "api/envelope_unsubscribe_request",
        _request(
            "unsubscribe",
            {"transaction_id": "0123456789", "timestamp": TS, "subscription_codes": []},
        ),
        "DEV-API-41",
    ),
    Case(
        "on_unsubscribe_request_header",
        "post_reg_on-unsubscribe",
        "api/envelope_unsubscribe_response",
        _request(
            "on-unsubscribe",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "timestamp": TS,
                "status": "succ",
                "subscription_status": [{"code": "S1", "status": "unsubscribe"}],
            },
            sender_id="ibr.example.org",
        ),
        ACCEPTED,
    ),
    # post_reg_txnstatus / post_reg_sync_txnstatus / post_reg_on-txnstatus
    Case(
        "txn_status",
        "post_reg_txnstatus",
        "api/envelope_txn_status_request",
        _request(
            "txn-status",
            {
                "transaction_id": "0123456789",
                "txnstatus_request": {
                    "reference_id": "12345678901234567890",
                    "txn_type": "search",
                    "attribute_type": "transaction_id",
                    "attribute_value": "0123456789",
                },
            },
        ),
        ACCEPTED,
    ),
    Case(
        "sync_txn_status_reference_list",
        "post_reg_sync_txnstatus",
        "api/envelope_txn_status_request",
        _request(
            "txn-status",
            {
                "transaction_id": "0123456789",
                "txnstatus_request": {
                    "reference_id": "1",
                    "txn_type": "search",
                    "attribute_type": "reference_id_list",
                    "attribute_value": ["1", "2"],
                },
            },
        ),
        ACCEPTED,
    ),
    Case(
        "txn_on_status_search",
        "post_reg_on-txnstatus",
        "api/envelope_txn_status_response",
        _callback(
            "txn-on-status",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "txnstatus_response": {
                    "txn_type": "search",
                    "txn_status": _search_response(data={"reg_records": []}),
                },
            },
        ),
        ACCEPTED,
    ),
    Case(
        "txn_on_status_receipt_echo",
        "post_reg_on-txnstatus",
        "api/envelope_txn_status_response",
        _callback(
            "txn-on-status",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "txnstatus_response": {
                    "txn_type": "receipt",
                    "txn_status": {
                        "transaction_id": "0123456789",
                        "receipt_information": {"beneficiaries": [_beneficiary()]},
                    },
                },
            },
        ),
        "DEV-API-11",
    ),
    # post_reg_enrolled
    Case(
        "enrolled_map_query",
        "post_reg_enrolled",
        "api/envelope_enrolled_request",
        _request(
            "search",
            {
                "transaction_id": "0123456789",
                "enrolled_criteria": {
                    "query_type": "expression",
                    "response_entity": "Member",
                    "query": {
                        "person_identifier": {"eq": "ABC451123"},
                        "programme_identifier.program.programme_identifier": {"eq": "DCI001"},
                    },
                },
            },
        ),
        ACCEPTED,
    ),
    Case(
        "enrolled_without_query_type",
        "post_reg_enrolled",
        "api/envelope_enrolled_request",
        _request(
            "search",
            {
                "transaction_id": "0123456789",
                "enrolled_criteria": {
                    "response_entity": "Member",
                    "query": {"person_identifier": {"eq": "ABC451123"}},
                },
            },
        ),
        ACCEPTED,  # C-ENROLLED-QUERY-TYPE infers expression, C-QUERY-MAP reads the map,
    ),
    Case(
        "enrolled_response",
        "post_reg_enrolled",
        "api/envelope_enrolled_response",
        _callback(
            "on-search",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "enrolled_response": [
                    {
                        "reference_id": "1",
                        "timestamp": TS,
                        "status": "succ",
                        "enrolled_status": "yes",
                    }
                ],
            },
        ),
        ACCEPTED,
    ),
    # post_reg_enrollments_updates
    Case(
        "updates_dci_sample_request_header",
        "post_reg_enrollments_updates",
        "api/envelope_enrollment_updates_request",
        _updates(
            {
                "message_id": "1",
                "message_ts": TS,
                "action": "register",
                "sender_id": "spmis.example.org",
                "total_count": "1",
            }
        ),
        ACCEPTED,
    ),
    Case(
        "updates_dci_openapi_callback_header",
        "post_reg_enrollments_updates",
        "api/envelope_enrollment_updates_request",
        _updates(
            {
                "message_id": "1",
                "message_ts": TS,
                "action": "notify",
                "status": "succ",
                "sender_id": "spmis.example.org",
                "total_count": 1,
            }
        ),
        ACCEPTED,  # callback-only fields dropped by C-UPDATES-REQUEST-HEADER (DEV-API-05)
    ),
    Case(
        "updates_callback_header_without_sender",
        "post_reg_enrollments_updates",
        "api/envelope_enrollment_updates_request",
        _updates({"message_id": "1", "message_ts": TS, "action": "notify", "status": "succ"}),
        "DEV-API-05",
    ),
    Case(
        "updates_response",
        "post_reg_enrollments_updates",
        "api/envelope_enrollment_updates_response",
        _callback(
            "notify",
            {
                "transaction_id": "0123456789",
                "correlation_id": "9876543210",
                "enrolled_response": [{"reference_id": "1", "timestamp": TS, "status": "succ"}],
            },
        ),
        ACCEPTED,
    ),
    # acknowledgements (every async operation)
    Case(
        "ack",
        "post_reg_search",
        "api/ack",
        {"message": {"ack_status": "ACK", "timestamp": TS, "correlation_id": "9876543210"}},
        ACCEPTED,
    ),
    Case(
        "err_without_message",
        "post_reg_search",
        "api/ack",
        {
            "message": {
                "ack_status": "ERR",
                "timestamp": TS,
                "correlation_id": "9876543210",
                "error": {"code": "err.request.bad"},
            }
        },
        "DEV-API-35",
    ),
]


def _drop_none(value: Any) -> Any:
    """Lets a case say `sender_id=None` for "member absent"."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def _verdict(case: Case) -> tuple[bool, str]:
    """(accepted, why not) after normalisation and canonical validation, as a receiver does."""
    raw = _drop_none(copy.deepcopy(case.envelope))
    try:
        message = normalise_envelope(raw) if "header" in raw else raw
        validate(message, case.schema)
    except SchemaValidationError as exc:
        return False, "; ".join(f"{e.path}: {e.message}" for e in exc.errors[:3])
    except IbrProtocolError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _logged_deviations() -> set[str]:
    text = (SPEC / "DEVIATIONS.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| (DEV-[A-Z]+-[0-9]+) \|", text, flags=re.MULTILINE))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dci_conformant_message_is_accepted_or_its_refusal_is_logged(case: Case) -> None:
    """If this fails, either a DCI-built system is refused for a reason DEVIATIONS.md does not
    give, or DEVIATIONS.md claims a refusal that no longer happens (update the row)."""
    accepted, why = _verdict(case)
    if case.expect == ACCEPTED:
        assert accepted, (
            f"{case.name}: DCI-conformant message refused, no deviation says why: {why}"
        )
        return
    assert case.expect in _logged_deviations(), f"{case.expect} is not a row of DEVIATIONS.md"
    assert not accepted, (
        f"{case.name} is now accepted; {case.expect} in DEVIATIONS.md says it is refused"
    )


def test_every_dci_operation_has_a_wire_case() -> None:
    """Each of the 13 DCI operations is probed, so no operation's compatibility goes unchecked."""
    openapi = yaml.safe_load((SPEC / "openapi.yaml").read_text(encoding="utf-8"))
    registry_operations = {
        operation["operationId"]
        for path, item in openapi["paths"].items()
        if path.startswith("/registry/")
        for operation in item.values()
    }
    assert len(registry_operations) == 13
    assert registry_operations <= {c.operation for c in CASES}
