"""Compiling the core's query AST to parameterised SQLAlchemy expressions over `subjects`.

Attribute names map to columns through fixed dictionaries; values are always bound parameters.
Conditions on enrolments (or benefits, or identifiers) joined by `And` become one subquery
(`subject_key IN (SELECT ...)`, or a correlated `EXISTS` beside an identifier condition), so
that they must hold for the same enrolment row. With `as_of`, enrolment conditions read each
enrolment's state on that date, rebuilt from its history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql import FromClause

from ibr_service.core.query import (
    BENEFIT_ATTRIBUTES,
    ENROLMENT_ATTRIBUTES,
    And,
    Attribute,
    Comparison,
    Expr,
    IdentifierIs,
    Missing,
    Not,
    Operator,
    Or,
    SortKey,
    flatten_and,
)
from ibr_service.store_sql.key_lookup import SubjectKeyIn
from ibr_service.store_sql.tables import (
    benefits,
    enrolment_status_history,
    enrolments,
    identifiers,
    subjects,
)

__all__ = ["compile_filter", "compile_sort"]

_IDENTIFIER_ATTRIBUTES = frozenset({Attribute.IDENTIFIER_TYPE, Attribute.IDENTIFIER_VALUE})
_AREA_COLUMNS = (
    subjects.c.area_code,
    subjects.c.area_level_1,
    subjects.c.area_level_2,
    subjects.c.area_level_3,
    subjects.c.area_level_4,
)
_SUBJECT_COLUMNS: dict[Attribute, ColumnElement[Any]] = {
    Attribute.GIVEN_NAME: subjects.c.given_name,
    Attribute.SURNAME: subjects.c.surname,
    Attribute.SEX: subjects.c.sex,
    Attribute.BIRTH_DATE: subjects.c.birth_date,
    Attribute.DEATH_DATE: subjects.c.death_date,
    Attribute.GROUP_TYPE: subjects.c.group_type,
    Attribute.GROUP_SIZE: subjects.c.group_size,
    Attribute.POVERTY_SCORE: subjects.c.poverty_score,
    # DCI assistance unit: 1 = a person; a group carries its own type (2, 3).
    Attribute.ASSISTANCE_UNIT: case(
        (subjects.c.kind == "person", literal("1")), else_=subjects.c.group_type
    ),
    Attribute.REGION_CODE: subjects.c.area_level_1,
    Attribute.DISTRICT_CODE: subjects.c.area_level_2,
    Attribute.AREA_CODE: subjects.c.area_code,
    Attribute.LAST_UPDATED: subjects.c.last_updated,
}

_OPERATORS: dict[Operator, Callable[[Any, Any], ColumnElement[bool]]] = {
    Operator.EQ: lambda c, v: c == v,
    Operator.NE: lambda c, v: c != v,
    Operator.GT: lambda c, v: c > v,
    Operator.LT: lambda c, v: c < v,
    Operator.GE: lambda c, v: c >= v,
    Operator.LE: lambda c, v: c <= v,
    Operator.IN: lambda c, v: c.in_(list(v)),
}


def compile_filter(expr: Expr, *, as_of: date | None = None) -> ColumnElement[bool]:
    """A WHERE clause over `subjects` equivalent to `expr` (enrolments as of `as_of`)."""
    return _Compiler(as_of).filter(expr)


def compile_sort(sort: Sequence[SortKey], *, as_of: date | None = None) -> list[Any]:
    """ORDER BY items (missing values last); `subject_key` last so that pages are stable.

    An attribute with several values per subject sorts by its smallest value ascending, its
    largest descending.
    """
    compiler = _Compiler(as_of)
    order: list[Any] = []
    for key in sort:
        value = compiler.sort_value(key)
        order.append((value.desc() if key.descending else value.asc()).nulls_last())
    order.append(subjects.c.subject_key.asc())
    return order


class _Compiler:
    def __init__(self, as_of: date | None) -> None:
        self.enrolment_rows: FromClause = enrolments if as_of is None else _enrolments_on(as_of)

    def filter(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, And):
            return self._and(flatten_and(expr))
        if isinstance(expr, Or):
            return or_(*(self.filter(e) for e in expr.items))
        if isinstance(expr, Not):
            return not_(self.filter(expr.item))
        if isinstance(expr, IdentifierIs):
            conditions = [identifiers.c.identifier_value == expr.identifier_value]
            if expr.identifier_type is not None:
                conditions.append(identifiers.c.identifier_type == expr.identifier_type)
            return _exists_in(identifiers, conditions)
        if isinstance(expr, Missing):
            return self._missing(expr.attribute)
        return self._and([expr])

    def sort_value(self, key: SortKey) -> Any:
        source = self._source(key.attribute)
        if source is None:
            return _SUBJECT_COLUMNS[key.attribute]
        column = source.c[key.attribute.value]
        pick = func.max(column) if key.descending else func.min(column)
        return (
            select(pick)
            .select_from(source)
            .where(source.c.subject_key == subjects.c.subject_key)
            .scalar_subquery()
        )

    def _source(self, attribute: Attribute) -> FromClause | None:
        """The table of a many-per-subject attribute; None for a column of `subjects`."""
        if attribute in _IDENTIFIER_ATTRIBUTES:
            return identifiers
        if attribute in ENROLMENT_ATTRIBUTES:
            return self.enrolment_rows
        if attribute in BENEFIT_ATTRIBUTES:
            return benefits
        return None

    def _and(self, items: Sequence[Expr]) -> ColumnElement[bool]:
        grouped: dict[FromClause, list[ColumnElement[bool]]] = {}
        direct: list[ColumnElement[bool]] = []
        for item in items:
            source = self._source(item.attribute) if isinstance(item, Comparison) else None
            if isinstance(item, Comparison) and source is not None:
                condition = _OPERATORS[item.operator](source.c[item.attribute.value], item.value)
                grouped.setdefault(source, []).append(condition)
            elif isinstance(item, Comparison):
                direct.append(_subject_comparison(item))
            else:
                direct.append(self.filter(item))
        # With an identifier among the conditions only a few subjects qualify: a correlated
        # EXISTS then looks at their rows alone (the enrolled check), where an IN list would
        # collect every subject of the programme first.
        by_identifier = identifiers in grouped or any(isinstance(i, IdentifierIs) for i in items)
        for source, conditions in grouped.items():
            if by_identifier and source is not identifiers:
                direct.append(_correlated_exists(source, conditions))
            else:
                direct.append(_exists_in(source, conditions))
        if not direct:
            return false()
        return and_(*direct) if len(direct) > 1 else direct[0]

    def _missing(self, attribute: Attribute) -> ColumnElement[bool]:
        """No value: a NULL column, or no row of the enrolment/benefit/identifier with one."""
        source = self._source(attribute)
        if source is not None:
            return not_(_exists_in(source, [source.c[attribute.value].is_not(None)]))
        if attribute is Attribute.AREA_CODE:
            return and_(*(c.is_(None) for c in _AREA_COLUMNS))
        return _SUBJECT_COLUMNS[attribute].is_(None)


def _subject_comparison(item: Comparison) -> ColumnElement[bool]:
    if item.attribute is Attribute.AREA_CODE and item.operator in (Operator.EQ, Operator.IN):
        # An area code names an area at any level: a district's code finds its people too.
        return or_(*(_OPERATORS[item.operator](c, item.value) for c in _AREA_COLUMNS))
    if item.attribute is Attribute.AREA_CODE and item.operator is Operator.NE:
        return and_(*(or_(c.is_(None), c != item.value) for c in _AREA_COLUMNS))
    return _OPERATORS[item.operator](_SUBJECT_COLUMNS[item.attribute], item.value)


def _exists_in(source: FromClause, conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """The subject has a row in `source` meeting every condition.

    Written `subject_key IN (SELECT subject_key ... WHERE conditions)`, uncorrelated: SQLite runs
    the subquery once, where a correlated EXISTS made it search the (programme, status) index
    once per subject (quadratic; 20,000 subjects took minutes); PostgreSQL plans both as a
    semi-join and starts from the selective side (an identifier, a programme).
    """
    keys = select(source.c.subject_key).where(*conditions)
    if source is identifiers:
        return SubjectKeyIn(keys)  # see key_lookup: partitions of `subjects` probed by key
    return subjects.c.subject_key.in_(keys)


def _correlated_exists(
    source: FromClause, conditions: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    return exists(
        select(1)
        .select_from(source)
        .where(source.c.subject_key == subjects.c.subject_key, *conditions)
    )


def _enrolments_on(day: date) -> FromClause:
    """Each enrolment's state on `day`: its last applied history row with an event date on or
    before it (an enrolment without one did not exist then), with the enrolment's columns."""
    h = enrolment_status_history.c
    rank = (
        func.row_number()
        .over(
            partition_by=(h.subject_key, h.enrolment_key),
            order_by=(h.event_date.desc(), h.recorded_at.desc(), h.change_id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            h.subject_key,
            h.enrolment_key,
            h.programme_identifier,
            h.enrolment_status,
            h.enrolment_date,
            h.status_change_date,
            rank,
        )
        .where(h.applied, h.event_date <= day)
        .subquery("ranked")
    )
    e = enrolments.c
    return (
        select(
            ranked.c.subject_key,
            ranked.c.enrolment_key,
            ranked.c.programme_identifier,
            ranked.c.enrolment_status,
            ranked.c.enrolment_date,
            ranked.c.status_change_date,
            e.beneficiary_programme_id,
        )
        .select_from(
            ranked.outerjoin(
                enrolments,
                and_(
                    e.subject_key == ranked.c.subject_key,
                    e.enrolment_key == ranked.c.enrolment_key,
                ),
            )
        )
        .where(ranked.c.rank == 1)
        .subquery("enrolments_on")
    )
