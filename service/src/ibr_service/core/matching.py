"""Evaluating a query AST in memory against one enrolment update (subscription matching)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import date
from typing import Any

from ibr_service.core.query import (
    And,
    Attribute,
    Comparison,
    Expr,
    IdentifierIs,
    Missing,
    Not,
    Operator,
    Or,
    Scalar,
)
from ibr_service.core.records import EnrolmentUpdate

__all__ = ["matches"]

_COMPARE: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.GT: operator.gt,
    Operator.LT: operator.lt,
    Operator.GE: operator.ge,
    Operator.LE: operator.le,
}


def matches(expr: Expr, update: EnrolmentUpdate) -> bool:
    """True when the update's subject/enrolment/benefits satisfy `expr`."""
    if isinstance(expr, And):
        return all(matches(e, update) for e in expr.items)
    if isinstance(expr, Or):
        return any(matches(e, update) for e in expr.items)
    if isinstance(expr, Not):
        return not matches(expr.item, update)
    if isinstance(expr, Missing):
        return all(v is None for v in _values(expr.attribute, update))
    if isinstance(expr, IdentifierIs):
        return any(
            i.identifier_value == expr.identifier_value
            and (expr.identifier_type is None or i.identifier_type == expr.identifier_type)
            for i in update.subject.identifiers
        )
    return any(_compare(expr, value) for value in _values(expr.attribute, update))


def _values(attribute: Attribute, update: EnrolmentUpdate) -> list[Scalar | None]:
    subject, enrolment = update.subject, update.enrolment
    simple: dict[Attribute, Scalar | None] = {
        Attribute.GIVEN_NAME: subject.given_name,
        Attribute.SURNAME: subject.surname,
        Attribute.SEX: subject.sex,
        Attribute.BIRTH_DATE: subject.birth_date,
        Attribute.DEATH_DATE: subject.death_date,
        Attribute.GROUP_TYPE: subject.group_type,
        Attribute.GROUP_SIZE: subject.group_size,
        Attribute.POVERTY_SCORE: subject.poverty_score,
        Attribute.PROGRAMME_IDENTIFIER: enrolment.programme_identifier,
        Attribute.ENROLMENT_STATUS: enrolment.enrolment_status,
        Attribute.ENROLMENT_DATE: enrolment.enrolment_date,
        Attribute.STATUS_CHANGE_DATE: enrolment.status_change_date,
        Attribute.BENEFICIARY_PROGRAMME_ID: enrolment.beneficiary_programme_id,
        Attribute.ASSISTANCE_UNIT: "1" if subject.kind == "person" else subject.group_type,
        Attribute.REGION_CODE: subject.area_levels[0],
        Attribute.DISTRICT_CODE: subject.area_levels[1],
        Attribute.LAST_UPDATED: subject.last_updated,
    }
    if attribute in simple:
        return [simple[attribute]]
    if attribute is Attribute.IDENTIFIER_VALUE:
        return [i.identifier_value for i in subject.identifiers]
    if attribute is Attribute.IDENTIFIER_TYPE:
        return [i.identifier_type for i in subject.identifiers]
    if attribute is Attribute.AREA_CODE:
        return [subject.area_code, *subject.area_levels]
    if attribute is Attribute.BENEFIT_TYPE:
        return [b.benefit_type for b in update.benefits]
    return [b.benefit_date for b in update.benefits]


def _compare(expr: Comparison, value: Scalar | None) -> bool:
    if value is None:
        return expr.operator is Operator.NE
    if expr.operator is Operator.IN:
        assert isinstance(expr.value, tuple)
        return any(_same_kind(value, v) and value == v for v in expr.value)
    if not _same_kind(value, expr.value):
        return False
    return _COMPARE[expr.operator](value, expr.value)


def _same_kind(left: object, right: object) -> bool:
    if isinstance(left, date) or isinstance(right, date):
        return isinstance(left, date) and isinstance(right, date)
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str)
    return True
