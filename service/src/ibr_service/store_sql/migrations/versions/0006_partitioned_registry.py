"""partitioned registry: the large registry tables hash-partitioned by subject_key (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

On PostgreSQL each table below becomes `PARTITION BY HASH (subject_key)` with 16 partitions
(`<table>_p00` .. `<table>_p15`), the key Citus would distribute by (docs/scale-out.md). The rows
are kept: a partitioned copy is created, filled with `INSERT ... SELECT`, the old table dropped and
the copy renamed; the primary key and every index (as the catalog holds them, so indexes added by
any earlier migration come along) are recreated under their names after the load. Every unique
constraint of these tables is its primary key, which starts with `subject_key` as a partitioned
table requires; there are no foreign keys. On SQLite this migration does nothing.

Downgrade makes them plain tables again, with the same rows, keys and indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16
"""Fixed at creation; changing it means another migration that rewrites the tables."""
TABLES = (
    "subjects",
    "source_records",
    "identifiers",
    "memberships",
    "enrolments",
    "enrolment_status_history",
    "benefits",
    "benefit_history",
    "subject_area_history",
)
KEY = "subject_key"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in TABLES:
        _rebuild(connection, table, partitioned=True)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in TABLES:
        _rebuild(connection, table, partitioned=False)


def _rebuild(connection: Connection, table: str, *, partitioned: bool) -> None:
    """Replace `table` by a (non-)partitioned copy holding the same rows, keys and indexes."""
    if _is_partitioned(connection, table) == partitioned:
        return
    constraints, indexes = _keys_and_indexes(connection, table)
    comment = connection.exec_driver_sql(
        "SELECT obj_description(to_regclass(%(t)s), 'pg_class')", {"t": table}
    ).scalar_one()
    if partitioned:
        for name, definition in constraints:
            if definition.startswith(("PRIMARY KEY", "UNIQUE")) and KEY not in definition:
                raise RuntimeError(f"{table}.{name} does not include {KEY}; it cannot partition")
    new = f"{table}__rebuilt"
    layout = f" PARTITION BY HASH ({KEY})" if partitioned else ""
    run = connection.exec_driver_sql
    # Our own table names only (no input). LIKE keeps column order, types, NOT NULL, defaults
    # and column comments; keys and indexes are added after the load (faster, and by name).
    run(
        f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING COMMENTS "
        f"INCLUDING STORAGE){layout}"
    )
    if partitioned:
        for n in range(PARTITIONS):
            run(
                f"CREATE TABLE {table}_p{n:02d} PARTITION OF {new} "
                f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
            )
    run(f"INSERT INTO {new} SELECT * FROM {table}")  # noqa: S608
    run(f"DROP TABLE {table}")  # drops its partitions, keys and indexes
    run(f"ALTER TABLE {new} RENAME TO {table}")
    for name, definition in constraints:
        run(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        run(definition)
    if comment is not None:
        quoted = str(comment).replace("'", "''")
        run(f"COMMENT ON TABLE {table} IS '{quoted}'")
    run(f"ANALYZE {table}")


def _is_partitioned(connection: Connection, table: str) -> bool:
    kind = connection.exec_driver_sql(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": table}
    ).scalar_one()
    return bool(kind == "p")


def _keys_and_indexes(
    connection: Connection, table: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, definition) of the table's constraints, and the CREATE INDEX statements of the
    indexes that back no constraint."""
    constraints = [
        (name, definition)
        for name, definition in connection.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(%(t)s) AND contype IN ('p', 'u', 'c', 'f', 'x') "
            "ORDER BY contype, conname",
            {"t": table},
        )
    ]
    indexes = [
        # `ON ONLY` appears for indexes of a partitioned table; the index is built on the
        # whole (new) table either way.
        definition.replace(" ON ONLY ", " ON ")
        for (definition,) in connection.exec_driver_sql(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = to_regclass(%(t)s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
            " AND c.conrelid = i.indrelid) ORDER BY i.indexrelid",
            {"t": table},
        )
    ]
    return constraints, indexes
