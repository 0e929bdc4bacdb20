"""DCI wire shapes that registries' test kits and SP-MIS send, mapped to the canonical form.

Three rules of `spec/compat/dci-1.0.0.yaml`, run by `ibr_protocol.normalise` after the others:

- C-SUBSCRIBE-EVENT: DCI registry event types (`REGISTER`, `UPDATE`, `DEREGISTER`, `DELETE`,
  any case, prefix already stripped) become the IBR's events (`enrollement`,
  `enrollement_status_change`, `deregister`).
- C-SUBSCRIBE-FILTER: a subscribe criterion without `filter_type` gets the one its `filter`
  has: `{type, value}` is `idtype-value`, a list is `predicate`, another object `expression`.
- C-QUERY-AGE: `age <op> N` (whole years, on the receiver's clock) becomes a comparison on
  `birth_date`, which the IBR holds: `age < N` is `birth_date > today - N years`, and so on;
  likewise DCI's `YOB` (year of birth): `YOB < 1980` is `birth_date < 1980-01-01`.
  `= N` and `in [...]` need a range, which one comparison cannot say: left as they are, the
  item is then refused on its own (`rjct.search_criteria.invalid`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

EVENT_TYPES = {
    "register": "enrollement",
    "update": "enrollement_status_change",
    "deregister": "deregister",
    "delete": "deregister",
}
"""DCI registry event type (lower case) -> the IBR event it stands for."""

Log = Callable[[str, str, str], None]


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February in a year without it
        return today.replace(year=today.year - years, day=28)


def _whole_years(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 150 else None
    if isinstance(value, float) and value.is_integer():
        return _whole_years(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return _whole_years(int(value.strip()))
    return None


def age_as_birth_date(comparison: dict[str, Any], today: date) -> dict[str, Any] | None:
    """The `birth_date` comparison equal to an `age` comparison, or None when there is none."""
    operator = comparison.get("operator")
    years = _whole_years(comparison.get("attribute_value"))
    if years is None or operator not in ("lt", "le", "gt", "ge"):
        return None
    # age >= N  <=>  born on or before today - N years; age > N <=> age >= N + 1; and so on.
    bound, birth_operator = {
        "lt": (years, "gt"),
        "le": (years + 1, "gt"),
        "gt": (years + 1, "le"),
        "ge": (years, "le"),
    }[operator]
    return {
        **comparison,
        "attribute_name": "birth_date",
        "operator": birth_operator,
        "attribute_value": _years_before(today, bound).isoformat(),
    }


def year_of_birth_as_birth_date(comparison: dict[str, Any]) -> dict[str, Any] | None:
    """The `birth_date` comparison equal to a `YOB` (year of birth) comparison, or None."""
    operator = comparison.get("operator")
    value = comparison.get("attribute_value")
    year = int(value) if isinstance(value, int | str) and str(value).isdigit() else None
    if year is None or not 1800 <= year <= 9999 or operator not in ("lt", "le", "gt", "ge"):
        return None
    bound, birth_operator = {
        "lt": (f"{year}-01-01", "lt"),
        "le": (f"{year}-12-31", "le"),
        "gt": (f"{year}-12-31", "gt"),
        "ge": (f"{year}-01-01", "ge"),
    }[operator]
    return {
        **comparison,
        "attribute_name": "birth_date",
        "operator": birth_operator,
        "attribute_value": bound,
    }


def _map_comparison(node: Any, path: str, today: date, log: Log) -> Any:
    name = node.get("attribute_name") if isinstance(node, dict) else None
    if name == "YOB":
        by_year = year_of_birth_as_birth_date(node)
        if by_year is not None:
            log("C-QUERY-AGE", f"{path}.attribute_name", f"YOB -> birth_date {by_year['operator']}")
            return by_year
        return node
    if name != "age":
        return node
    mapped = age_as_birth_date(node, today)
    if mapped is None:
        return node
    log(
        "C-QUERY-AGE",
        f"{path}.attribute_name",
        f"{node.get('operator')} {mapped['attribute_value']}",
    )
    return mapped


def _map_query(query: Any, path: str, today: date, log: Log) -> Any:
    if isinstance(query, list):
        return [
            {
                key: _map_comparison(value, f"{path}[{index}].{key}", today, log)
                if key in ("expression1", "expression2")
                else value
                for key, value in item.items()
            }
            if isinstance(item, dict)
            else item
            for index, item in enumerate(query)
        ]
    return _map_comparison(query, path, today, log)


def map_age_queries(message: dict[str, Any], today: date, log: Log) -> None:
    """C-QUERY-AGE over the search and enrolled criteria of a message (in place)."""
    for index, item in enumerate(message.get("search_request") or []):
        criteria = item.get("search_criteria") if isinstance(item, dict) else None
        if isinstance(criteria, dict) and "query" in criteria:
            where = f"$.message.search_request[{index}].search_criteria.query"
            criteria["query"] = _map_query(criteria["query"], where, today, log)
    enrolled = message.get("enrolled_criteria")
    checks = enrolled if isinstance(enrolled, list) else [enrolled]
    for index, check in enumerate(checks):
        if isinstance(check, dict) and "query" in check:
            where = f"$.message.enrolled_criteria[{index}].query"
            check["query"] = _map_query(check["query"], where, today, log)


def _filter_type(value: Any) -> str | None:
    """The query type `value`'s shape has (`{type, value}` idtype-value, a list predicate,
    another object expression), and only when `value` is valid as that type: a filter no
    type fits is left without one, to be refused per item instead of by the schema (fuzzing
    found such filters refused as a whole request)."""
    if isinstance(value, list):
        guess = "predicate"
    elif isinstance(value, dict):
        guess = "idtype-value" if {"type", "value"} <= set(value) else "expression"
    else:
        return None
    if guess == "idtype-value" and not _is_idtype_value(value):
        guess = "expression"
    if guess == "expression" and _is_query_map(value):
        return guess  # DCI's `{attr: {op: value}}` form, rewritten later (rule C-QUERY-MAP)
    return guess if _fits(value, guess) else None


def _is_query_map(value: Any) -> bool:
    """`{"attr": {"op": value}, ...}` with attribute-like names and operator objects."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(key, str)
            and _ATTRIBUTE_NAME.fullmatch(key) is not None
            and isinstance(condition, dict)
            and bool(condition)
            for key, condition in value.items()
        )
    )


_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$]{0,98}")
_QUERY_SCHEMAS = {
    "idtype-value": "api/query_idtype_value",
    "expression": "api/query_expression",
    "predicate": "api/query_predicate",
}


def _fits(value: Any, query_type: str) -> bool:
    from ibr_protocol.validation import is_valid  # the schemas import this module's rules

    if query_type == "idtype-value":
        return _is_idtype_value(value)
    return is_valid(value, _QUERY_SCHEMAS[query_type])


def _is_idtype_value(value: dict[str, Any]) -> bool:
    from ibr_protocol.validation import is_valid  # the schemas import this module's rules

    if not {"type", "value"} <= set(value):
        return False
    spelled = {**value, "type": _identifier_type_aliases().get(value["type"], value["type"])}
    return is_valid(spelled, "api/query_idtype_value")


def identifier_type_code(spelled: str) -> str:
    """The spec's code for an identifier type as DCI peers spell it (`NationalID` -> `NID`)."""
    return _identifier_type_aliases().get(spelled, spelled)


@cache
def _identifier_type_aliases() -> dict[Any, str]:
    """`x-aliases` of codes/identifier_type (e.g. NationalID -> NID), as DCI peers spell them."""
    from ibr_protocol.validation import load_schema

    return {
        alias: str(option["const"])
        for option in load_schema("codes/identifier_type")["oneOf"]
        for alias in option.get("x-aliases", ())
    }


def map_subscribe_criteria(message: dict[str, Any], log: Log) -> None:
    """C-SUBSCRIBE-EVENT and C-SUBSCRIBE-FILTER over a subscribe request (in place)."""
    for index, item in enumerate(message.get("subscribe_request") or []):
        criteria = item.get("subscribe_criteria") if isinstance(item, dict) else None
        if not isinstance(criteria, dict):
            continue
        where = f"$.message.subscribe_request[{index}].subscribe_criteria"
        event = criteria.get("reg_event_type")
        if isinstance(event, str) and event.strip().lower() in EVENT_TYPES:
            criteria["reg_event_type"] = EVENT_TYPES[event.strip().lower()]
            log(
                "C-SUBSCRIBE-EVENT",
                f"{where}.reg_event_type",
                f"{event} -> {criteria['reg_event_type']}",
            )
        if "filter_type" not in criteria:
            inferred = _filter_type(criteria.get("filter"))
            if inferred is not None:
                criteria["filter_type"] = inferred
                log("C-SUBSCRIBE-FILTER", f"{where}.filter_type", inferred)


def infer_enrolled_query_type(value: dict[str, Any], path: str, log: Log) -> dict[str, Any]:
    """C-ENROLLED-QUERY-TYPE: an enrolled check without `query_type` (DCI's OpenAPI example
    `{"query": {"person_identifier": {"eq": "..."}}}`) gets the one its query's shape has."""
    if ".enrolled_criteria" not in path or "query_type" in value or "query" not in value:
        return value
    inferred = _filter_type(value["query"])
    if inferred is None:
        return value
    log("C-ENROLLED-QUERY-TYPE", f"{path}.query_type", inferred)
    return {**value, "query_type": inferred}
