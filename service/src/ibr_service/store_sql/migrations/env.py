"""Alembic environment of the IBR schema: SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ibr_service.store_sql.partitioning import is_partition
from ibr_service.store_sql.tables import metadata

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Autogenerate compares tables, not the hash partitions of the registry tables."""
    return not (type_ == "table" and name is not None and is_partition(name))


def run_migrations_online() -> None:
    """Run against a live connection; SQLite needs batch mode to ALTER tables."""
    if url is None:
        raise RuntimeError("no database URL: call ibr_service.store_sql.upgrade(url)")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
