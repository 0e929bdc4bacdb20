"""A small built-in set of canonical records: for the demo, the tests and the store contract.

Used until (and beside) `ibr_mock_data`; everything here is synthetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibr_service.core.records import JsonDict

__all__ = [
    "enrollment_message",
    "group_beneficiary",
    "person_beneficiary",
    "programme_check",
    "programme_expression",
    "search_message",
]


def person_beneficiary(
    national_id: str,
    *,
    programme: str = "DCI001",
    status: str = "1",
    given_name: str = "Amina",
    surname: str = "Okafor",
    sex: str = "female",
    birth_date: str = "1980-04-12",
    enrolment_date: str = "2024-04-12",
    status_change_date: str | None = None,
    benefits: Sequence[tuple[str, str]] = (("2024-05-02", "50.00"),),
    extra_identifiers: Sequence[tuple[str, str]] = (),
    identifiers: Sequence[tuple[str, str]] | None = None,
    record_id: str | None = None,
    death_date: str | None = None,
    region: str | None = None,
    district: str | None = None,
    status_reason: str | None = None,
) -> JsonDict:
    """A canonical Beneficiary (assistance unit 1) enrolled in `programme`.

    `identifiers` replaces the default `[("NID", national_id), *extra_identifiers]` (order
    kept); `record_id` is the programme's `beneficiary_programme_id`; `region` and `district`
    go in the person's first address.
    """
    pairs = identifiers if identifiers is not None else [("NID", national_id), *extra_identifiers]
    identifiers_doc = [{"identifier_type": t, "identifier_value": v} for t, v in pairs]
    enrolment: JsonDict = {
        "programme": {
            "programme_identifier": programme,
            "programme_name": f"Programme {programme}",
        },
        "enrolment_date": enrolment_date,
        "enrolment_status": status,
        "benefits": [
            {
                "benefit_id": f"{programme}-{national_id}-{day}",
                "benefit_type": "1",
                "benefit_date": day,
                "benefit_value": {"amount": amount, "currency": "USD"},
            }
            for day, amount in benefits
        ],
    }
    if status_change_date is not None:
        enrolment["status_change_date"] = status_change_date
    if status_reason is not None:
        enrolment["status_reason"] = status_reason
    if record_id is not None:
        enrolment["beneficiary_programme_id"] = record_id
    person: JsonDict = {
        "identifier": identifiers_doc[:1],
        "name": {"given_name": given_name, "surname": surname},
        "sex": sex,
        "birth_date": birth_date,
    }
    if death_date is not None:
        person["death_date"] = death_date
    if region is not None or district is not None:
        address: JsonDict = {}
        if region is not None:
            address["region_code"] = region
        if district is not None:
            address["sub_region_code"] = district
        person["address"] = [address]
    return {
        "assistance_unit": "1",
        "member": {"member_identifier": identifiers_doc, "demographic_info": person},
        "programme_identifier": [enrolment],
    }


def group_beneficiary(
    household_id: str,
    member_ids: Sequence[str],
    *,
    programme: str = "HH001",
    status: str = "1",
    poverty_score: float = 3.5,
) -> JsonDict:
    """A canonical household Beneficiary (assistance unit 2) with its members."""
    members: list[dict[str, Any]] = [
        {
            "member_identifier": [{"identifier_type": "NID", "identifier_value": nid}],
            "demographic_info": {"name": {"given_name": f"Member {nid}", "surname": "Household"}},
        }
        for nid in member_ids
    ]
    return {
        "assistance_unit": "2",
        "group": {
            "group_identifier": [
                {"identifier_type": "HOUSEHOLD_ID", "identifier_value": household_id}
            ],
            "group_type": "2",
            "group_size": len(members),
            "poverty_score": poverty_score,
            "member_list": members,
        },
        "programme_identifier": [
            {
                "programme": {
                    "programme_identifier": programme,
                    "programme_name": "Household grant",
                },
                "enrolment_date": "2024-01-01",
                "enrolment_status": status,
            }
        ],
    }


def enrollment_message(beneficiaries: Sequence[JsonDict], transaction_id: str = "T-1") -> JsonDict:
    """An EnrollmentUpdatesRequest message."""
    return {
        "transaction_id": transaction_id,
        "enrolled_updates": {"beneficiaries": list(beneficiaries)},
    }


def search_message(
    query_type: str,
    query: Any,
    *,
    page_size: int = 10,
    page_number: int = 1,
    sort: list[JsonDict] | None = None,
    reference_id: str = "R-1",
) -> JsonDict:
    """A SearchRequest message with one search item."""
    criteria: JsonDict = {
        "query_type": query_type,
        "query": query,
        "pagination": {"page_size": page_size, "page_number": page_number},
    }
    if sort is not None:
        criteria["sort"] = sort
    return {
        "transaction_id": "T-search",
        "search_request": [
            {
                "reference_id": reference_id,
                "timestamp": "2024-05-02T10:00:00Z",
                "search_criteria": criteria,
            }
        ],
    }


def programme_check(reference_id: str, nid: str, programme: JsonDict) -> JsonDict:
    """One sync/enrolled check: is the person with ``nid`` enrolled, filtered by ``programme``
    (an expression from :func:`programme_expression`)."""
    return {
        "reference_id": reference_id,
        "query_type": "predicate",
        "query": [
            {
                "seq_num": 1,
                "expression1": {
                    "attribute_name": "member_identifier",
                    "operator": "eq",
                    "attribute_value": nid,
                },
                "condition": "and",
                "expression2": programme,
            }
        ],
    }


def programme_expression(operator: str, value: Any) -> JsonDict:
    """A ``programme_identifier`` expression (``eq`` one code, ``in`` a list)."""
    return {
        "attribute_name": "programme_identifier",
        "operator": operator,
        "attribute_value": value,
    }
