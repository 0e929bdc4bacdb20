"""SQLite's plans for the searches that must scale: checked on the plan, never on a timing.

A correlated `EXISTS` on enrolments made SQLite search the (programme, status) index once per
subject: a search by programme over 20,000 subjects took minutes. The compiler now writes such
conditions as an uncorrelated `subject_key IN (SELECT ...)`, run once.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ibr_service.core.query import And, Attribute, Comparison, Expr, IdentifierIs, Operator, SortKey
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.compile import compile_filter, compile_sort
from ibr_service.store_sql.tables import subjects

ACTIVE_IN_P1 = And(
    (
        Comparison(Attribute.PROGRAMME_IDENTIFIER, Operator.EQ, "P1"),
        Comparison(Attribute.ENROLMENT_STATUS, Operator.EQ, "1"),
    )
)


def _plan(tmp_path: Path, query: Expr, sort: list[SortKey]) -> list[str]:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    store = SqlStore.from_url(url)
    statement = select(subjects.c.subject_key).where(compile_filter(query))
    statement = statement.order_by(*compile_sort(sort)).limit(20)
    sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    store.engine.dispose()
    return plan


def test_a_search_by_programme_runs_its_enrolment_subquery_once(tmp_path: Path) -> None:
    """If this fails, SQLite searches enrolments once per subject again (quadratic)."""
    plan = _plan(tmp_path, ACTIVE_IN_P1, [SortKey(Attribute.ENROLMENT_DATE)])
    assert any(step.startswith("LIST SUBQUERY") for step in plan), plan
    assert not any("ix_enrolments_programme_status" in step for step in _correlated(plan)), plan


def test_the_enrolled_check_looks_at_the_identified_subjects_only(tmp_path: Path) -> None:
    """If this fails, the enrolled check collects every subject of the programme first."""
    plan = _plan(tmp_path, And((IdentifierIs("NID", "1"), *ACTIVE_IN_P1.items)), [])
    assert any(step.startswith("CORRELATED") for step in plan), plan


def _correlated(plan: list[str]) -> list[str]:
    """The steps that run inside a correlated subquery (after its CORRELATED marker)."""
    inside, out = False, []
    for step in plan:
        if step.startswith(("CORRELATED", "LIST SUBQUERY", "SCALAR SUBQUERY")):
            inside = step.startswith("CORRELATED")
        elif inside:
            out.append(step)
    return out
