"""The alembic migrations build exactly the schema of store_sql.tables, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ibr_service.store_sql import SqlStore, metadata


def test_migrated_schema_matches_the_table_definitions(store: SqlStore) -> None:
    """If this fails, tables.py changed without a migration (or the reverse)."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
