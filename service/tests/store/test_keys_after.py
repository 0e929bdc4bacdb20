"""Keys and indexes built after a large load come back exactly as the migrations made them."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, create_engine, text

from ibr_service.store_sql.keys_after import key_statements_query, keys_built_after

pytestmark = pytest.mark.postgres

# Every constraint and index of the table and of its partitions, by name and definition.
_CATALOGUE = """
SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relname = :table OR t.oid IN (SELECT inhrelid FROM pg_inherits
                                      WHERE inhparent = to_regclass(:table))
UNION ALL
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relname = :table OR t.oid IN (SELECT inhrelid FROM pg_inherits
                                      WHERE inhparent = to_regclass(:table))
ORDER BY 1, 2
"""


def _catalogue(connection: Connection, table: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in connection.execute(text(_CATALOGUE), {"table": table})]


@pytest.mark.parametrize("table", ["coverage_contributions", "enrolments", "memberships"])
def test_keys_and_indexes_are_gone_during_the_load_and_back_after_it(
    pg_migrated: str, table: str
) -> None:
    engine = create_engine(pg_migrated)
    with engine.begin() as connection:
        before = _catalogue(connection, table)
        assert before  # the table has keys or indexes to drop
        with keys_built_after(connection, table):
            assert _catalogue(connection, table) == []
        assert _catalogue(connection, table) == before
        connection.rollback()
    engine.dispose()


def test_a_failed_load_leaves_the_keys_as_they_were(pg_migrated: str) -> None:
    engine = create_engine(pg_migrated)
    with engine.connect() as connection:
        before = _catalogue(connection, "coverage_contributions")
    with (
        pytest.raises(RuntimeError),
        engine.begin() as connection,
        keys_built_after(connection, "coverage_contributions"),
    ):
        raise RuntimeError("the load failed")
    with engine.connect() as connection:
        assert _catalogue(connection, "coverage_contributions") == before
    engine.dispose()


def test_only_plain_table_names_are_accepted() -> None:
    with pytest.raises(ValueError, match="not a table name"):
        key_statements_query("enrolments; DROP TABLE subjects")
