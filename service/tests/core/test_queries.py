"""sync/search and sync/enrolled: query forms, pagination, data minimisation, SQL injection."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, inspect

from ibr_service.core import IbrCore
from ibr_service.core.samples import (
    enrollment_message,
    group_beneficiary,
    person_beneficiary,
    search_message,
)
from ibr_service.store_sql import SqlStore

from .conftest import SP


@pytest.fixture
def populated(core: IbrCore) -> IbrCore:
    people = [person_beneficiary(f"{i:03d}", surname=f"S{i:03d}") for i in range(23)]
    people.append(person_beneficiary("900", programme="P2", status="5"))
    people.append(group_beneficiary("H-1", ["700", "701"]))
    core.enrollment_updates(enrollment_message(people), caller=SP)
    return core


def test_search_pages_carry_the_total_and_the_requested_slice(populated: IbrCore) -> None:
    """If this fails, clients cannot page through results or see how many there are."""
    query = {"programme_identifier": {"eq": "DCI001"}}
    sort = [{"attribute_name": "surname", "sort_order": "asc"}]
    pages = [
        populated.sync_search(
            search_message("expression", query, page_size=10, page_number=n, sort=sort), caller=SP
        )["search_response"][0]
        for n in (1, 2, 3)
    ]
    assert [p["pagination"]["total_count"] for p in pages] == [23, 23, 23]
    sizes = [len(p["data"]["reg_records"]) for p in pages]
    assert sizes == [10, 10, 3]
    first = pages[0]["data"]["reg_records"][0]
    assert first["member"]["demographic_info"]["name"]["surname"] == "S000"
    assert first["programme_identifier"][0]["enrolment_status"] == "1"
    assert (
        pages[2]["data"]["reg_records"][-1]["member"]["demographic_info"]["name"]["surname"]
        == "S022"
    )


@pytest.mark.parametrize(
    ("query_type", "query"),
    [
        ("idtype-value", {"type": "NID", "value": "900"}),
        (
            "expression",
            {"attribute_name": "person_identifier", "operator": "eq", "attribute_value": "900"},
        ),
        (
            "predicate",
            [
                {
                    "seq_num": 1,
                    "expression1": {
                        "attribute_name": "identifier_value",
                        "operator": "eq",
                        "attribute_value": "900",
                    },
                    "condition": "and",
                    "expression2": {
                        "attribute_name": "programme_identifier",
                        "operator": "eq",
                        "attribute_value": "P2",
                    },
                }
            ],
        ),
    ],
    ids=["idtype-value", "expression", "predicate"],
)
def test_every_query_form_finds_the_same_person(
    populated: IbrCore, query_type: str, query: Any
) -> None:
    """If this fails, one of the DCI query forms is parsed or compiled wrongly."""
    item = populated.sync_search(search_message(query_type, query), caller=SP)["search_response"][0]
    assert item["status"] == "succ"
    records = item["data"]["reg_records"]
    assert len(records) == 1
    assert records[0]["member"]["member_identifier"][0]["identifier_value"] == "900"
    assert records[0]["programme_identifier"][0]["programme"]["programme_identifier"] == "P2"


def test_bad_search_items_are_rejected_with_their_reason_and_others_answered(
    populated: IbrCore,
) -> None:
    """If this fails, one bad search item fails the whole request or gets no DCI reason code."""
    message = search_message("expression", {"programme_identifier": {"eq": "DCI001"}})
    good = message["search_request"][0]
    bad_attr = {
        **good,
        "reference_id": "R-2",
        "search_criteria": {**good["search_criteria"], "query": {"password": {"eq": "x"}}},
    }
    bad_page = {
        **good,
        "reference_id": "R-3",
        "search_criteria": {**good["search_criteria"], "pagination": {"page_size": 0}},
    }
    bad_sort = {
        **good,
        "reference_id": "R-4",
        "search_criteria": {**good["search_criteria"], "sort": [{"attribute_name": "document"}]},
    }
    message["search_request"] += [bad_attr, bad_page, bad_sort]
    items = populated.sync_search(message, caller=SP)["search_response"]
    assert [(i["reference_id"], i["status"], i.get("status_reason_code")) for i in items] == [
        ("R-1", "succ", None),
        ("R-2", "rjct", "rjct.search_criteria.invalid"),
        ("R-3", "rjct", "rjct.pagination.invalid"),
        ("R-4", "rjct", "rjct.sort.invalid"),
    ]
    assert "password" in items[1]["status_reason_message"]


INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE subjects; --",
    "1) OR 1=1 --",
    '" OR ""="',
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_in_an_expression_matches_nothing_and_is_only_a_bound_value(
    populated: IbrCore, sql_store: SqlStore, payload: str
) -> None:
    """If this fails, expression queries are built as SQL text: an injection risk."""
    statements: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool
    ) -> None:
        statements.append((statement, params))

    event.listen(sql_store.engine, "before_cursor_execute", capture)
    try:
        query = {
            "attribute_name": "person_identifier",
            "operator": "eq",
            "attribute_value": payload,
        }
        item = populated.sync_search(search_message("expression", query), caller=SP)[
            "search_response"
        ][0]
        enrolled = populated.enrolled(
            {
                "transaction_id": "T",
                "enrolled_criteria": {
                    "query_type": "expression",
                    "query": {"person_identifier": {"eq": payload}},
                },
            },
            caller=SP,
        )
    finally:
        event.remove(sql_store.engine, "before_cursor_execute", capture)
    assert item["status"] == "succ"
    assert item["data"]["reg_records"] == []
    assert item["pagination"]["total_count"] == 0
    assert enrolled["enrolled_response"][0]["enrolled_status"] == "no"
    assert all(payload not in statement for statement, _ in statements)
    assert any(payload in str(params) for _, params in statements), "the value was not bound"
    assert "subjects" in inspect(sql_store.engine).get_table_names()
    assert (
        populated.sync_search(
            search_message("idtype-value", {"type": "NID", "value": "001"}), caller=SP
        )["search_response"][0]["pagination"]["total_count"]
        == 1
    )


def test_sql_in_an_attribute_name_is_rejected_not_executed(populated: IbrCore) -> None:
    """If this fails, attribute names reach SQL instead of going through the whitelist."""
    query = {
        "attribute_name": "surname; DROP TABLE subjects",
        "operator": "eq",
        "attribute_value": "x",
    }
    item = populated.sync_search(search_message("expression", query), caller=SP)["search_response"][
        0
    ]
    assert item["status"] == "rjct"
    assert item["status_reason_code"] == "rjct.search_criteria.invalid"


def test_enrolled_answers_yes_or_no_only(populated: IbrCore) -> None:
    """If this fails, the enrolled check discloses personal data or answers wrongly."""
    criteria = [
        {
            "reference_id": "a",
            "query_type": "idtype-value",
            "query": {"type": "NID", "value": "001"},
        },
        {
            "reference_id": "b",
            "query_type": "expression",
            "query": {
                "person_identifier": {"eq": "900"},
                "programme_identifier.program.programme_identifier": {"eq": "P2"},
            },
        },
        {
            "reference_id": "c",
            "query_type": "expression",
            "response_entity": "Group",
            "query": {"group_identifier": {"eq": "H-1"}, "programme": {"eq": "HH001"}},
        },
        {
            "reference_id": "d",
            "query_type": "idtype-value",
            "response_entity": "Group",
            "query": {"type": "NID", "value": "001"},
        },
    ]
    response = populated.enrolled({"transaction_id": "T", "enrolled_criteria": criteria}, caller=SP)
    items = response["enrolled_response"]
    assert [(i["reference_id"], i["enrolled_status"]) for i in items] == [
        ("a", "yes"),
        ("b", "no"),  # exited ("5") is not enrolled
        ("c", "yes"),
        ("d", "no"),  # a person is not a household
    ]
    assert all(set(i) == {"reference_id", "timestamp", "status", "enrolled_status"} for i in items)
