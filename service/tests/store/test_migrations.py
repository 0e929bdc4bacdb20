"""The alembic migrations build exactly the schema of store_sql.tables, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ibr_service.store_sql import SqlStore, metadata
from ibr_service.store_sql.partitioning import is_partition


def test_migrated_schema_matches_the_table_definitions(store: SqlStore) -> None:
    """If this fails, tables.py changed without a migration (or the reverse)."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # The hash partitions of the registry tables are storage (migration 0006).
                "include_name": lambda name, type_, _: (
                    not (type_ == "table" and is_partition(name))
                ),
            },
        )
        differences = compare_metadata(context, metadata)
    assert differences == []
