"""Large loads on PostgreSQL build a table's keys and indexes once, after the rows are in.

Maintaining a B-tree row by row while millions of rows go in costs far more than sorting them
once at the end. The statements come from the catalogue, so a key or index is recreated exactly
as its migration made it, under its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

__all__ = ["key_statements_query", "keys_built_after"]

_TABLE = re.compile(r"[a-z_][a-z0-9_]*")


def key_statements_query(table: str) -> str:
    """A query giving (drop, create) statement pairs for ``table``'s primary and unique keys and
    its other indexes (a partitioned table's are recreated on every partition)."""
    if not _TABLE.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    return (
        "SELECT 'ALTER TABLE ' || conrelid::regclass || ' DROP CONSTRAINT '"  # noqa: S608 (checked)
        " || quote_ident(conname),"
        " 'ALTER TABLE ' || conrelid::regclass || ' ADD CONSTRAINT ' || quote_ident(conname)"
        " || ' ' || pg_get_constraintdef(oid)"
        f" FROM pg_constraint WHERE conrelid = to_regclass('{table}') AND contype IN ('p', 'u')"
        " UNION ALL SELECT 'DROP INDEX ' || indexrelid::regclass,"
        " replace(pg_get_indexdef(indexrelid), ' ON ONLY ', ' ON ') FROM pg_index i"
        f" WHERE indrelid = to_regclass('{table}')"
        " AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
    )


@contextmanager
def keys_built_after(connection: Connection, table: str) -> Iterator[None]:
    """Drop ``table``'s keys and indexes, run the caller's load, recreate them (in the caller's
    transaction: a failed load leaves them as they were). Elsewhere than PostgreSQL, nothing."""
    if connection.dialect.name != "postgresql":
        yield
        return
    statements = connection.exec_driver_sql(key_statements_query(table)).all()
    for drop, _ in statements:
        connection.exec_driver_sql(drop)
    yield
    for _, create in statements:
        connection.exec_driver_sql(create)
