"""Identifier conditions compile to a lookup that runs once on PostgreSQL (key_lookup.py).

Their answers are checked on both backends by the store contract suite; this checks the form that
keeps the enrolled check from walking the partitions of `subjects` in key order.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ibr_service.core.query import IdentifierIs, Not
from ibr_service.store_sql.compile import compile_filter
from ibr_service.store_sql.tables import subjects


def _sql(expr: IdentifierIs | Not, dialect: object) -> str:
    query = select(subjects.c.subject_key).where(compile_filter(expr)).limit(1)
    return " ".join(str(query.compile(dialect=dialect)).split())  # type: ignore[arg-type]


def test_postgresql_looks_identifiers_up_once_then_probes_subjects_by_key() -> None:
    """If this fails, PostgreSQL may plan the identifier lookup as a merge over all subjects."""
    sql = _sql(IdentifierIs("NID", "1"), postgresql.dialect())
    lookup = "(subjects.subject_key = ANY(ARRAY(SELECT identifiers.subject_key FROM identifiers"
    assert lookup in sql
    assert " IN (" not in sql


def test_sqlite_keeps_the_in_subquery_as_a_plain_predicate() -> None:
    """If this fails, SQLite gets `(... IN (...)) = 1`, which its planner cannot use as an IN."""
    sql = _sql(Not(IdentifierIs(None, "9")), sqlite.dialect())
    assert "WHERE NOT subjects.subject_key IN (SELECT identifiers.subject_key" in sql
    assert "= 1" not in sql
    assert "= 0" not in sql
