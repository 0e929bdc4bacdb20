"""A backend-neutral filter AST and the parsers that build it from DCI query forms.

Every query a client sends (`idtype-value`, `expression`, `predicate`; the enrolled check; a
subscription filter) becomes this small AST over a fixed whitelist of attributes. Stores compile
the AST to their own query language (the SQL store to parameterised SQLAlchemy expressions);
client text never reaches a query string. An attribute outside the whitelist, an unknown operator
or a value of the wrong type is a `QueryError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeAlias

from ibr_service.core.dates import utc_date
from ibr_service.core.errors import QueryError

__all__ = [
    "ATTRIBUTE_ALIASES",
    "And",
    "Attribute",
    "Comparison",
    "Expr",
    "IdentifierIs",
    "Missing",
    "Not",
    "Operator",
    "Or",
    "Scalar",
    "SortKey",
    "attribute_named",
    "parse_query",
    "parse_sort",
]


class Attribute(StrEnum):
    """The searchable attributes; each store maps every one of them to a column."""

    # subject (person or group)
    IDENTIFIER_VALUE = "identifier_value"
    IDENTIFIER_TYPE = "identifier_type"
    GIVEN_NAME = "given_name"
    SURNAME = "surname"
    SEX = "sex"
    BIRTH_DATE = "birth_date"
    DEATH_DATE = "death_date"
    GROUP_TYPE = "group_type"
    GROUP_SIZE = "group_size"
    POVERTY_SCORE = "poverty_score"
    ASSISTANCE_UNIT = "assistance_unit"
    """`1` for a person, else the group's type (`2`, `3`)."""
    REGION_CODE = "region_code"
    """Area at level 1 (region)."""
    DISTRICT_CODE = "district_code"
    """Area at level 2 (DCI's `sub_region_code`)."""
    AREA_CODE = "area_code"
    """An area at any level of the hierarchy."""
    LAST_UPDATED = "last_updated"
    """The latest event date any source reported for the subject."""
    # enrolment
    PROGRAMME_IDENTIFIER = "programme_identifier"
    ENROLMENT_STATUS = "enrolment_status"
    ENROLMENT_DATE = "enrolment_date"
    STATUS_CHANGE_DATE = "status_change_date"
    BENEFICIARY_PROGRAMME_ID = "beneficiary_programme_id"
    # benefit
    BENEFIT_TYPE = "benefit_type"
    BENEFIT_DATE = "benefit_date"


SUBJECT_ATTRIBUTES = frozenset(
    {
        Attribute.IDENTIFIER_VALUE,
        Attribute.IDENTIFIER_TYPE,
        Attribute.GIVEN_NAME,
        Attribute.SURNAME,
        Attribute.SEX,
        Attribute.BIRTH_DATE,
        Attribute.DEATH_DATE,
        Attribute.GROUP_TYPE,
        Attribute.GROUP_SIZE,
        Attribute.POVERTY_SCORE,
        Attribute.ASSISTANCE_UNIT,
        Attribute.REGION_CODE,
        Attribute.DISTRICT_CODE,
        Attribute.AREA_CODE,
        Attribute.LAST_UPDATED,
    }
)
ENROLMENT_ATTRIBUTES = frozenset(
    {
        Attribute.PROGRAMME_IDENTIFIER,
        Attribute.ENROLMENT_STATUS,
        Attribute.ENROLMENT_DATE,
        Attribute.STATUS_CHANGE_DATE,
        Attribute.BENEFICIARY_PROGRAMME_ID,
    }
)
BENEFIT_ATTRIBUTES = frozenset({Attribute.BENEFIT_TYPE, Attribute.BENEFIT_DATE})
DATE_ATTRIBUTES = frozenset(
    {
        Attribute.BIRTH_DATE,
        Attribute.DEATH_DATE,
        Attribute.ENROLMENT_DATE,
        Attribute.STATUS_CHANGE_DATE,
        Attribute.BENEFIT_DATE,
        Attribute.LAST_UPDATED,
    }
)
NUMBER_ATTRIBUTES = frozenset({Attribute.GROUP_SIZE, Attribute.POVERTY_SCORE})
SORTABLE_ATTRIBUTES = frozenset(Attribute)
"""Every attribute (spec/schemas/api/search_sort): an attribute with several values per subject
(enrolment, benefit, identifier) sorts by its smallest value, or its largest when descending."""

ATTRIBUTE_ALIASES: Mapping[str, Attribute] = {
    # spellings found in the DCI samples, OpenAPI examples and JSON-LD paths
    "person_identifier": Attribute.IDENTIFIER_VALUE,
    "member_identifier": Attribute.IDENTIFIER_VALUE,
    "group_identifier": Attribute.IDENTIFIER_VALUE,
    "identifier": Attribute.IDENTIFIER_VALUE,
    "first_name": Attribute.GIVEN_NAME,
    "name.given_name": Attribute.GIVEN_NAME,
    "name.first_name": Attribute.GIVEN_NAME,
    "name.surname": Attribute.SURNAME,
    "last_name": Attribute.SURNAME,
    "gender": Attribute.SEX,
    "dob": Attribute.BIRTH_DATE,
    "programme": Attribute.PROGRAMME_IDENTIFIER,
    "programme_identifier.programme.programme_identifier": Attribute.PROGRAMME_IDENTIFIER,
    "programme_identifier.program.programme_identifier": Attribute.PROGRAMME_IDENTIFIER,
    "programme.programme_identifier": Attribute.PROGRAMME_IDENTIFIER,
    "enrollment_status": Attribute.ENROLMENT_STATUS,
    "enrollment_date": Attribute.ENROLMENT_DATE,
    "programme_identifier.enrolment_status": Attribute.ENROLMENT_STATUS,
    "sub_region_code": Attribute.DISTRICT_CODE,
    "address.region_code": Attribute.REGION_CODE,
    "address.sub_region_code": Attribute.DISTRICT_CODE,
}


class Operator(StrEnum):
    """The DCI expression operators (`ExpOperator`) plus `ne`."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    IN = "in"


Scalar: TypeAlias = str | int | float | bool | date


@dataclass(frozen=True, slots=True)
class Comparison:
    """`attribute operator value`; for `in`, `value` is a tuple of scalars."""

    attribute: Attribute
    operator: Operator
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class IdentifierIs:
    """The subject has an identifier of this type (any type when None) with this value."""

    identifier_type: str | None
    identifier_value: str


@dataclass(frozen=True, slots=True)
class Missing:
    """The subject has no value for `attribute` (e.g. no death date: not deceased)."""

    attribute: Attribute


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr: TypeAlias = Comparison | IdentifierIs | Missing | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    attribute: Attribute
    descending: bool = False


_MAX_IN_VALUES = 1000
_MAX_TEXT = 256
_MAX_NODES = 64


def attribute_named(name: object, *, field: str) -> Attribute:
    """The whitelisted attribute a client spelling stands for, or a QueryError naming it."""
    if not isinstance(name, str) or not name:
        raise QueryError("attribute name must be a non-empty string", field=field)
    key = name.strip()
    if key in ATTRIBUTE_ALIASES:
        return ATTRIBUTE_ALIASES[key]
    try:
        return Attribute(key.lower())
    except ValueError:
        allowed = ", ".join(sorted(a.value for a in Attribute))
        raise QueryError(
            f"attribute {name[:_MAX_TEXT]!r} is not searchable; allowed: {allowed}", field=field
        ) from None


def parse_query(query_type: str, query: Any, *, field: str = "query") -> Expr:
    """Build the AST of a DCI query (`idtype-value`, `expression` or `predicate`)."""
    if query_type == "idtype-value":
        expr = _parse_idtype_value(query, field=field)
    elif query_type == "expression":
        expr = _parse_expression(query, field=field)
    elif query_type == "predicate":
        expr = _parse_predicate_list(query, field=field)
    else:
        raise QueryError(
            f"query_type {str(query_type)[:40]!r} is not supported; use idtype-value, "
            "expression or predicate",
            field="query_type",
        )
    if _count_nodes(expr) > _MAX_NODES:
        raise QueryError(f"query has more than {_MAX_NODES} conditions", field=field)
    return expr


def parse_sort(sort: Any, *, field: str = "sort") -> tuple[SortKey, ...]:
    """The sort keys of a DCI `sort` list (`[{attribute_name, sort_order}]`)."""
    if sort is None:
        return ()
    if not isinstance(sort, list):
        raise QueryError("sort must be a list", field=field, reason="rjct.sort.invalid")
    keys: list[SortKey] = []
    for i, item in enumerate(sort):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise QueryError("sort item must be an object", field=where, reason="rjct.sort.invalid")
        try:
            attribute = attribute_named(item.get("attribute_name"), field=f"{where}.attribute_name")
        except QueryError as exc:
            raise QueryError(exc.message, field=exc.field, reason="rjct.sort.invalid") from None
        if attribute not in SORTABLE_ATTRIBUTES:
            raise QueryError(
                f"cannot sort by {attribute.value}; sortable: "
                + ", ".join(sorted(a.value for a in SORTABLE_ATTRIBUTES)),
                field=f"{where}.attribute_name",
                reason="rjct.sort.invalid",
            )
        order = item.get("sort_order", "asc")
        if order not in ("asc", "desc"):
            raise QueryError(
                "sort_order must be asc or desc",
                field=f"{where}.sort_order",
                reason="rjct.sort.invalid",
            )
        keys.append(SortKey(attribute, descending=order == "desc"))
    return tuple(keys)


# --- query forms ----------------------------------------------------------------------------


def _parse_idtype_value(query: Any, *, field: str) -> Expr:
    if not isinstance(query, dict):
        raise QueryError("idtype-value query must be an object {type, value}", field=field)
    id_type, value = query.get("type"), query.get("value")
    if id_type is not None and (not isinstance(id_type, str) or not id_type):
        raise QueryError("type must be a non-empty string", field=f"{field}.type")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise QueryError("value must be a non-empty string or integer", field=f"{field}.value")
    text = _text(str(value), field=f"{field}.value")
    return IdentifierIs(id_type[:_MAX_TEXT] if id_type else None, text)


def _parse_expression(query: Any, *, field: str) -> Expr:
    if isinstance(query, dict) and "attribute_name" in query:
        # DCI sample: {"attribute_name", "operator", "attribute_value"}
        return _parse_comparison(query, field=field)
    if isinstance(query, dict) and isinstance(query.get("value"), dict):
        # DCI SearchRequest: {"type": ..., "value": {"expression": {"collection", "query"}}}
        inner = query["value"].get("expression", query["value"])
        inner_query = inner.get("query") if isinstance(inner, dict) else None
        return _parse_mongo_like(inner_query, field=f"{field}.value.expression.query")
    if isinstance(query, list):
        return _parse_predicate_list(query, field=field)
    return _parse_mongo_like(query, field=field)


def _parse_mongo_like(query: Any, *, field: str) -> Expr:
    """`{"$and": [...]}` / `{"attr": {"$lt": 5}}` / `{"attr": {"eq": "x"}}` / `{"attr": "x"}`."""
    if not isinstance(query, dict) or not query:
        raise QueryError("expression must be a non-empty object", field=field)
    items: list[Expr] = []
    for key, value in query.items():
        where = f"{field}.{key}"
        if key in ("$and", "$or", "and", "or"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} needs a non-empty list", field=where)
            parts = tuple(_parse_mongo_like(v, field=f"{where}[{i}]") for i, v in enumerate(value))
            items.append(And(parts) if key.lstrip("$") == "and" else Or(parts))
        elif key in ("$not", "not"):
            items.append(Not(_parse_mongo_like(value, field=where)))
        else:
            attribute = attribute_named(key, field=where)
            if isinstance(value, dict):
                if not value:
                    raise QueryError("operator object is empty", field=where)
                for op, operand in value.items():
                    items.append(
                        _comparison(attribute, _operator(op, field=f"{where}.{op}"), operand, where)
                    )
            else:
                items.append(_comparison(attribute, Operator.EQ, value, where))
    return items[0] if len(items) == 1 else And(tuple(items))


def _parse_predicate_list(query: Any, *, field: str) -> Expr:
    """DCI `ExpPredicateWithConditionList`: `[{seq_num, expression1, condition, expression2}]`."""
    if not isinstance(query, list) or not query:
        raise QueryError("predicate query must be a non-empty list", field=field)
    indexed = list(enumerate(query))
    indexed.sort(key=lambda pair: _seq_num(pair[1]))
    parts: list[Expr] = []
    for i, item in indexed:
        where = f"{field}[{i}]"
        if not isinstance(item, dict) or "expression1" not in item:
            raise QueryError("predicate needs expression1", field=where)
        first = _parse_comparison(item["expression1"], field=f"{where}.expression1")
        condition = item.get("condition")
        second_raw = item.get("expression2")
        if condition in (None, "") and second_raw in (None, {}):
            parts.append(first)
        elif condition == "not":
            parts.append(
                Not(first)
                if second_raw in (None, {})
                else And((first, Not(_parse_comparison(second_raw, field=f"{where}.expression2"))))
            )
        elif condition in ("and", "or"):
            if not isinstance(second_raw, dict):
                raise QueryError(
                    f"condition {condition} needs expression2", field=f"{where}.expression2"
                )
            second = _parse_comparison(second_raw, field=f"{where}.expression2")
            parts.append(And((first, second)) if condition == "and" else Or((first, second)))
        else:
            raise QueryError("condition must be and, or or not", field=f"{where}.condition")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_comparison(item: Any, *, field: str) -> Comparison:
    if not isinstance(item, dict):
        raise QueryError("expression must be an object", field=field)
    attribute = attribute_named(item.get("attribute_name"), field=f"{field}.attribute_name")
    operator = _operator(item.get("operator"), field=f"{field}.operator")
    if "attribute_value" not in item:
        raise QueryError("attribute_value is required", field=f"{field}.attribute_value")
    return _comparison(attribute, operator, item["attribute_value"], f"{field}.attribute_value")


def _operator(raw: Any, *, field: str) -> Operator:
    text = raw.lstrip("$").lower() if isinstance(raw, str) else ""
    text = {"gte": "ge", "lte": "le", "neq": "ne"}.get(text, text)
    try:
        return Operator(text)
    except ValueError:
        allowed = ", ".join(o.value for o in Operator)
        raise QueryError(
            f"operator {str(raw)[:20]!r} is not allowed; use {allowed}", field=field
        ) from None


def _comparison(attribute: Attribute, operator: Operator, raw: Any, field: str) -> Comparison:
    if operator is Operator.IN:
        if not isinstance(raw, list) or not raw or len(raw) > _MAX_IN_VALUES:
            raise QueryError(f"in needs a list of 1..{_MAX_IN_VALUES} values", field=field)
        return Comparison(attribute, operator, tuple(_value(attribute, v, field) for v in raw))
    return Comparison(attribute, operator, _value(attribute, raw, field))


def _value(attribute: Attribute, raw: Any, field: str) -> Scalar:
    if attribute in DATE_ATTRIBUTES:
        day = utc_date(raw) if isinstance(raw, str) else None
        if day is not None:
            return day
        raise QueryError(f"{attribute.value} needs a date YYYY-MM-DD", field=field)
    if attribute in NUMBER_ATTRIBUTES:
        if isinstance(raw, bool):
            raise QueryError(f"{attribute.value} needs a number", field=field)
        if isinstance(raw, (int, float)):
            return raw
        if isinstance(raw, str):
            try:
                return float(raw) if "." in raw else int(raw)
            except ValueError:
                pass
        raise QueryError(f"{attribute.value} needs a number", field=field)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise QueryError(f"{attribute.value} needs a string", field=field)
    return _text(str(raw), field=field)


def _text(value: str, *, field: str) -> str:
    if len(value) > _MAX_TEXT:
        raise QueryError(f"value longer than {_MAX_TEXT} characters", field=field)
    return value


def _seq_num(item: Any) -> float:
    raw = item.get("seq_num", 0) if isinstance(item, dict) else 0
    return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else 0.0


def _count_nodes(expr: Expr) -> int:
    if isinstance(expr, (And, Or)):
        return 1 + sum(_count_nodes(e) for e in expr.items)
    if isinstance(expr, Not):
        return 1 + _count_nodes(expr.item)
    return 1


def flatten_and(expr: Expr) -> Sequence[Expr]:
    """The conjuncts of `expr` (itself when it is not an And)."""
    if isinstance(expr, And):
        out: list[Expr] = []
        for item in expr.items:
            out.extend(flatten_and(item))
        return out
    return [expr]
