"""DCI wire shapes of test kits and SP-MIS, normalised (rules C-SUBSCRIBE-EVENT,
C-SUBSCRIBE-FILTER, C-QUERY-AGE of spec/compat/dci-1.0.0.yaml)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ibr_protocol import validate
from ibr_protocol.dci_wire import age_as_birth_date, map_age_queries, map_subscribe_criteria
from ibr_protocol.normalise import normalise_envelope_report

TS = "2026-01-05T10:00:00Z"
TODAY = date(2026, 3, 1)


def _noop(rule: str, path: str, detail: str) -> None:
    del rule, path, detail


def _envelope(action: str, message: dict[str, Any]) -> dict[str, Any]:
    header = {
        "version": "1.0.0",
        "message_id": "m1",
        "message_ts": TS,
        "action": action,
        "sender_id": "test-client",
        "sender_uri": "http://127.0.0.1:3336/registry/on-" + action,
        "receiver_id": "IBR",
        "total_count": 1,
    }
    return {"signature": "unsigned-stub", "header": header, "message": message}


def _subscribe(criteria: dict[str, Any]) -> dict[str, Any]:
    item = {"reference_id": "r1", "timestamp": TS, "subscribe_criteria": criteria}
    return {"transaction_id": "t1", "subscribe_request": [item]}


@pytest.mark.parametrize(
    ("dci", "ours"),
    [
        ("REGISTER", "enrollement"),
        ("register", "enrollement"),
        ("ns:org:RegistryEventType:REGISTER", "enrollement"),
        ("UPDATE", "enrollement_status_change"),
        ("DEREGISTER", "deregister"),
        ("DELETE", "deregister"),
    ],
)
def test_dci_event_types_become_ibr_events(dci: str, ours: str) -> None:
    kit = _subscribe(
        {
            "reg_event_type": dci,
            "filter": {"type": "UIN", "value": "T-1"},
            "notify_record_type": "Member",
        }
    )
    result = normalise_envelope_report(_envelope("subscribe", kit))
    criteria = result.value["message"]["subscribe_request"][0]["subscribe_criteria"]
    assert criteria["reg_event_type"] == ours
    assert criteria["filter_type"] == "idtype-value"
    assert {"C-SUBSCRIBE-EVENT", "C-SUBSCRIBE-FILTER"} <= {a.rule for a in result.applied}
    validate(result.value, result.schema)


def test_link_is_not_an_ibr_event_and_stays_refused() -> None:
    kit = _subscribe(
        {
            "reg_event_type": "LINK",
            "filter": {"type": "UIN", "value": "T-1"},
            "notify_record_type": "Member",
        }
    )
    result = normalise_envelope_report(_envelope("subscribe", kit))
    with pytest.raises(Exception, match="reg_event_type"):
        validate(result.value, result.schema)


@pytest.mark.parametrize(
    ("filter_", "inferred"),
    [
        ({"type": "UIN", "value": "1"}, "idtype-value"),
        (
            [
                {
                    "seq_num": 1,
                    "expression1": {
                        "attribute_name": "sex",
                        "operator": "eq",
                        "attribute_value": "female",
                    },
                }
            ],
            "predicate",
        ),
        ({"value": {"sex": {"eq": "female"}}}, "expression"),
    ],
)
def test_absent_filter_type_is_inferred_and_a_given_one_kept(filter_: Any, inferred: str) -> None:
    message = _subscribe({"reg_event_type": "enrollement", "filter": filter_})
    map_subscribe_criteria(message, _noop)
    assert message["subscribe_request"][0]["subscribe_criteria"]["filter_type"] == inferred
    given = _subscribe({"filter_type": "expression", "filter": {"type": "UIN", "value": "1"}})
    map_subscribe_criteria(given, _noop)
    assert given["subscribe_request"][0]["subscribe_criteria"]["filter_type"] == "expression"


@pytest.mark.parametrize(
    ("filter_", "inferred"),
    [
        ({"type": "NationalID", "value": "12"}, "idtype-value"),  # an alias of NID
        ({"type": "not-a-type", "value": "12"}, None),
        ({"type": "NID", "value": {"nested": True}}, "expression"),  # DCI expression form
        ([{}], None),
    ],
)
def test_a_filter_no_type_fits_is_left_for_a_per_item_refusal(
    filter_: Any, inferred: str | None
) -> None:
    """If this fails, a schema-valid subscribe (filter_type is optional) gets a type its filter
    breaks, and the whole request is refused by the schema instead of the item (found by
    fuzzing)."""
    message = _subscribe({"reg_event_type": "enrollement", "filter": filter_})
    map_subscribe_criteria(message, _noop)
    assert message["subscribe_request"][0]["subscribe_criteria"].get("filter_type") == inferred


@pytest.mark.parametrize(
    ("operator", "years", "birth_operator", "bound"),
    [
        ("lt", "25", "gt", "2001-03-01"),  # under 25: born after 1 March 2001
        ("le", 25, "gt", "2000-03-01"),  # 25 or under: born after 1 March 2000
        ("gt", 25, "le", "2000-03-01"),  # over 25 (26+): born on or before 1 March 2000
        ("ge", 25.0, "le", "2001-03-01"),  # 25 or over: born on or before 1 March 2001
    ],
)
def test_age_becomes_a_birth_date_comparison(
    operator: str, years: Any, birth_operator: str, bound: str
) -> None:
    mapped = age_as_birth_date(
        {"attribute_name": "age", "operator": operator, "attribute_value": years}, TODAY
    )
    assert mapped == {
        "attribute_name": "birth_date",
        "operator": birth_operator,
        "attribute_value": bound,
    }


def test_age_boundaries_agree_with_counting_birthdays() -> None:
    """Every birth date around the bound: the mapped comparison says what the age says."""
    for born in (date(2001, 2, 28), date(2001, 3, 1), date(2001, 3, 2)):
        age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
        for operator, holds in (
            ("lt", age < 25),
            ("le", age <= 25),
            ("gt", age > 25),
            ("ge", age >= 25),
        ):
            mapped = age_as_birth_date(
                {"attribute_name": "age", "operator": operator, "attribute_value": 25}, TODAY
            )
            assert mapped is not None
            bound = date.fromisoformat(mapped["attribute_value"])
            says = born > bound if mapped["operator"] == "gt" else born <= bound
            assert says == holds, (born, operator)


def test_leap_day_and_unmappable_ages() -> None:
    leap = age_as_birth_date(
        {"attribute_name": "age", "operator": "ge", "attribute_value": 1}, date(2028, 2, 29)
    )
    assert leap is not None
    assert leap["attribute_value"] == "2027-02-28"
    for operator, value in (("eq", 25), ("in", [1, 2]), ("lt", "young"), ("lt", -1), ("lt", True)):
        assert (
            age_as_birth_date(
                {"attribute_name": "age", "operator": operator, "attribute_value": value}, TODAY
            )
            is None
        )


def test_kit_predicate_maps_age_and_keeps_poverty_score_for_a_per_item_refusal() -> None:
    predicate = [
        {
            "seq_num": 1,
            "expression1": {"attribute_name": "age", "operator": "lt", "attribute_value": "25"},
            "condition": "and",
            "expression2": {
                "attribute_name": "poverty_score",
                "operator": "lt",
                "attribute_value": "2.5",
            },
        }
    ]
    message = {
        "search_request": [{"search_criteria": {"query_type": "predicate", "query": predicate}}]
    }
    applied: list[str] = []
    map_age_queries(message, TODAY, lambda rule, path, detail: applied.append(path))
    query = message["search_request"][0]["search_criteria"]["query"][0]
    assert query["expression1"]["attribute_name"] == "birth_date"
    assert query["expression2"]["attribute_name"] == "poverty_score"
    assert applied == [
        "$.message.search_request[0].search_criteria.query[0].expression1.attribute_name"
    ]


def test_enrolled_check_without_query_type_reads_dci_s_map_example() -> None:
    envelope = _envelope(
        "search",
        {
            "transaction_id": "t1",
            "enrolled_criteria": {
                "response_entity": "Member",
                "query": {"person_identifier": {"eq": "ABC451123"}},
            },
        },
    )
    envelope["header"].pop("sender_uri")
    result = normalise_envelope_report(envelope)
    criteria = result.value["message"]["enrolled_criteria"]
    assert criteria["query_type"] == "expression"
    assert criteria["query"] == {
        "attribute_name": "identifier_value",
        "operator": "eq",
        "attribute_value": "ABC451123",
    }
    assert [a.rule for a in result.applied][-2:] == ["C-ENROLLED-QUERY-TYPE", "C-QUERY-MAP"]
    validate(result.value, result.schema)


@pytest.mark.parametrize(
    ("operator", "birth_operator", "bound"),
    [
        ("lt", "lt", "1980-01-01"),
        ("le", "le", "1980-12-31"),
        ("gt", "gt", "1980-12-31"),
        ("ge", "ge", "1980-01-01"),
    ],
)
def test_year_of_birth_becomes_a_birth_date_comparison(
    operator: str, birth_operator: str, bound: str
) -> None:
    message = {
        "search_request": [
            {
                "search_criteria": {
                    "query_type": "predicate",
                    "query": [
                        {
                            "seq_num": 1,
                            "expression1": {
                                "attribute_name": "YOB",
                                "operator": operator,
                                "attribute_value": "1980",
                            },
                        }
                    ],
                }
            }
        ]
    }
    map_age_queries(message, TODAY, _noop)
    expression = message["search_request"][0]["search_criteria"]["query"][0]["expression1"]
    assert expression == {
        "attribute_name": "birth_date",
        "operator": birth_operator,
        "attribute_value": bound,
    }


def test_gender_is_the_sex_attribute() -> None:
    envelope = _envelope(
        "search",
        {
            "transaction_id": "t1",
            "search_request": [
                {
                    "reference_id": "r1",
                    "timestamp": TS,
                    "search_criteria": {
                        "query_type": "predicate",
                        "query": [
                            {
                                "seq_num": 1,
                                "expression1": {
                                    "attribute_name": "gender",
                                    "operator": "eq",
                                    "attribute_value": "female",
                                },
                            }
                        ],
                    },
                }
            ],
        },
    )
    result = normalise_envelope_report(envelope)
    query = result.value["message"]["search_request"][0]["search_criteria"]["query"]
    assert query[0]["expression1"]["attribute_name"] == "sex"
