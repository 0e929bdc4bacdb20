"""The PostgreSQL large-write path: COPY into temporary staging tables, then set-wise merges.

Used by `SqlTransaction.write_registry` when a write reaches `bulk_threshold` rows. It writes the
same rows (`rows.registry_rows`) with the same conflict rules (`registry.UPSERT_KEYS`) as the
executemany path; only the way rows reach the tables differs: one COPY stream per table and one
`INSERT ... SELECT ... ON CONFLICT` per table, inside the caller's transaction. psycopg adapts
dates, Decimal (Numeric) and bool (Boolean) itself; JSON columns are sent as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Connection
from sqlalchemy.sql.schema import Table

from ibr_service.store_sql.registry import KEEP_ON_UPDATE, UPSERT_KEYS
from ibr_service.store_sql.rows import RegistryRows, Row
from ibr_service.store_sql.tables import metadata

__all__ = ["copy_rows", "merge_with_copy"]


def merge_with_copy(connection: Connection, batch: RegistryRows) -> None:
    """Write `batch` with COPY + set-wise merge on the connection's open transaction."""
    # A subject and its source record carry the same document object: serialise it once.
    json_text: dict[int, str] = {}
    for name, table_rows in batch.by_table():
        if table_rows:
            merge_table(connection, metadata.tables[name], table_rows, json_text=json_text)


def merge_table(
    connection: Connection,
    table: Table,
    table_rows: Sequence[Row],
    *,
    json_text: dict[int, str] | None = None,
) -> None:
    """COPY `table_rows` into a staging copy of `table`, then merge them into `table`."""
    stage = f"stage_{table.name}"
    columns = [c.name for c in table.columns]
    # Identifiers below are our own table/column names (never client input).
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name} INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS"
    )
    connection.exec_driver_sql(f"TRUNCATE {stage}")
    copy_rows(
        connection,
        stage,
        columns,
        table_rows,
        json_columns=_json_columns(table),
        json_text=json_text,
    )
    column_list = ", ".join(f'"{c}"' for c in columns)
    keys = UPSERT_KEYS.get(table.name)
    if keys is None:
        conflict = "ON CONFLICT DO NOTHING"
    else:
        updates = ", ".join(
            f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys and c not in KEEP_ON_UPDATE
        )
        conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {stage} {conflict}"  # noqa: S608
    )


def copy_rows(
    connection: Connection,
    table_name: str,
    columns: Sequence[str],
    table_rows: Sequence[Row],
    *,
    json_columns: frozenset[str] = frozenset(),
    json_text: dict[int, str] | None = None,
) -> None:
    """Stream rows into `table_name` with COPY FROM STDIN on the connection's transaction.

    `json_text` memoises the JSON of objects by identity, for objects that stay alive (and
    unchanged) while it is in use: the rows of one write.
    """
    memo = {} if json_text is None else json_text

    def as_json(value: Any) -> str:
        text = memo.get(id(value))
        if text is None:
            text = memo[id(value)] = json.dumps(value, separators=(",", ":"))
        return text

    driver: Any = connection.connection.driver_connection
    quoted = ", ".join(f'"{c}"' for c in columns)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table_name} ({quoted}) FROM STDIN") as copy,
    ):
        for row in table_rows:
            copy.write_row(
                [
                    as_json(row[c]) if c in json_columns and row[c] is not None else row[c]
                    for c in columns
                ]
            )


def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
