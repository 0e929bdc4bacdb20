"""Compiling the core's query AST to parameterised SQLAlchemy expressions over `subjects`.

Attribute names map to columns through a fixed dictionary; values are always bound parameters.
Conditions on enrolments (or benefits, or identifiers) joined by `And` become one subquery
(`EXISTS`, or `IN` for identifiers), so that they must hold for the same enrolment row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select
from sqlalchemy.sql.schema import Column, Table

from ibr_service.core.query import (
    BENEFIT_ATTRIBUTES,
    ENROLMENT_ATTRIBUTES,
    And,
    Attribute,
    Comparison,
    Expr,
    IdentifierIs,
    Not,
    Operator,
    Or,
    SortKey,
    flatten_and,
)
from ibr_service.store_sql.tables import benefits, enrolments, identifiers, subjects

__all__ = ["compile_filter", "compile_sort"]

_IDENTIFIER_ATTRIBUTES = frozenset({Attribute.IDENTIFIER_TYPE, Attribute.IDENTIFIER_VALUE})

_COLUMNS: dict[Attribute, Column[Any]] = {
    Attribute.IDENTIFIER_VALUE: identifiers.c.identifier_value,
    Attribute.IDENTIFIER_TYPE: identifiers.c.identifier_type,
    Attribute.GIVEN_NAME: subjects.c.given_name,
    Attribute.SURNAME: subjects.c.surname,
    Attribute.SEX: subjects.c.sex,
    Attribute.BIRTH_DATE: subjects.c.birth_date,
    Attribute.DEATH_DATE: subjects.c.death_date,
    Attribute.GROUP_TYPE: subjects.c.group_type,
    Attribute.GROUP_SIZE: subjects.c.group_size,
    Attribute.POVERTY_SCORE: subjects.c.poverty_score,
    Attribute.PROGRAMME_IDENTIFIER: enrolments.c.programme_identifier,
    Attribute.ENROLMENT_STATUS: enrolments.c.enrolment_status,
    Attribute.ENROLMENT_DATE: enrolments.c.enrolment_date,
    Attribute.STATUS_CHANGE_DATE: enrolments.c.status_change_date,
    Attribute.BENEFIT_TYPE: benefits.c.benefit_type,
    Attribute.BENEFIT_DATE: benefits.c.benefit_date,
}

_OPERATORS: dict[Operator, Callable[[Column[Any], Any], ColumnElement[bool]]] = {
    Operator.EQ: lambda c, v: c == v,
    Operator.NE: lambda c, v: c != v,
    Operator.GT: lambda c, v: c > v,
    Operator.LT: lambda c, v: c < v,
    Operator.GE: lambda c, v: c >= v,
    Operator.LE: lambda c, v: c <= v,
    Operator.IN: lambda c, v: c.in_(list(v)),
}


def compile_filter(expr: Expr) -> ColumnElement[bool]:
    """A WHERE clause over `subjects` equivalent to `expr`."""
    if isinstance(expr, And):
        return _compile_and(flatten_and(expr))
    if isinstance(expr, Or):
        return or_(*(compile_filter(e) for e in expr.items))
    if isinstance(expr, Not):
        return not_(compile_filter(expr.item))
    if isinstance(expr, IdentifierIs):
        conditions = [identifiers.c.identifier_value == expr.identifier_value]
        if expr.identifier_type is not None:
            conditions.append(identifiers.c.identifier_type == expr.identifier_type)
        return _exists_in(identifiers, conditions)
    return _compile_and([expr])


def compile_sort(sort: Sequence[SortKey]) -> list[Any]:
    """ORDER BY items; `subject_key` last so that pages are stable."""
    order: list[Any] = []
    for key in sort:
        column = _COLUMNS[key.attribute]
        order.append(column.desc() if key.descending else column.asc())
    order.append(subjects.c.subject_key.asc())
    return order


def _compile_and(items: Sequence[Expr]) -> ColumnElement[bool]:
    groups: dict[str, list[ColumnElement[bool]]] = {
        "identifier": [],
        "enrolment": [],
        "benefit": [],
    }
    direct: list[ColumnElement[bool]] = []
    for item in items:
        if isinstance(item, Comparison):
            condition = _comparison(item)
            if item.attribute in _IDENTIFIER_ATTRIBUTES:
                groups["identifier"].append(condition)
            elif item.attribute in ENROLMENT_ATTRIBUTES:
                groups["enrolment"].append(condition)
            elif item.attribute in BENEFIT_ATTRIBUTES:
                groups["benefit"].append(condition)
            else:
                direct.append(condition)
        else:
            direct.append(compile_filter(item))
    if groups["identifier"]:
        direct.append(_exists_in(identifiers, groups["identifier"]))
    if groups["enrolment"]:
        direct.append(_exists_in(enrolments, groups["enrolment"]))
    if groups["benefit"]:
        direct.append(_exists_in(benefits, groups["benefit"]))
    if not direct:
        return false()
    return and_(*direct) if len(direct) > 1 else direct[0]


def _comparison(item: Comparison) -> ColumnElement[bool]:
    return _OPERATORS[item.operator](_COLUMNS[item.attribute], item.value)


def _exists_in(table: Table, conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    if table is identifiers:
        # Identifier lookups are selective: `subject_key IN (SELECT ...)` lets PostgreSQL start
        # from the identifier index instead of scanning `subjects`.
        return subjects.c.subject_key.in_(select(table.c.subject_key).where(*conditions))
    return exists(
        select(1)
        .select_from(table)
        .where(table.c.subject_key == subjects.c.subject_key, *conditions)
    )
