"""PostgreSQL's plan for a batch's rollup recompute: checked on the plan, never on a timing.

The scope's own rows (CTEs, no index) were once kept to the scope with ``= ANY(ARRAY(...))``,
which PostgreSQL evaluates as a linear search of the array for every row: quadratic in the batch
(10,000 subjects at 562,480 enrolments: 134 of the statement's 145 s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from ibr_service.analytics.rollups_delta import statement_on_postgresql
from ibr_service.store_sql import upgrade

from ..api.conftest import pg_database

pytestmark = pytest.mark.postgres


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_no_scan_of_the_scope_s_own_rows_searches_a_key_array_per_row() -> None:
    """If this fails, a batch's rollup update is quadratic in its size again."""
    with pg_database("ibr_test_rollup_plans") as url:
        upgrade(url)
        engine = sa.create_engine(url)
        statement, params = statement_on_postgresql(dt.date(2026, 1, 5))
        with engine.connect() as connection:
            plan = connection.execute(
                sa.text("EXPLAIN (FORMAT JSON) " + statement),
                {**params, "subjects": [f"p:{n}" for n in range(100)]},
            ).scalar_one()
        engine.dispose()
    nodes = list(_nodes(plan[0]["Plan"]))
    cte_scans = [node for node in nodes if node["Node Type"] == "CTE Scan"]
    assert cte_scans  # the statement reads its scope's rows from CTEs
    searched = [node for node in cte_scans if "= ANY (" in node.get("Filter", "")]
    assert searched == [], [(n["CTE Name"], n["Filter"]) for n in searched]
