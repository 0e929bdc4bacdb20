"""The PostgreSQL large-write path: COPY into temporary staging tables, then set-wise merges.

Used by `SqlTransaction.write_registry` when a write reaches `bulk_threshold` rows. It writes the
same rows (`rows.registry_rows`) with the same conflict rules (`registry.UPSERT_KEYS`) as the
executemany path; only the way rows reach the tables differs: one COPY stream per table and one
`INSERT ... SELECT ... ON CONFLICT` per table (histories, whose rows cannot conflict, are copied
straight into their tables), inside the caller's transaction. psycopg adapts
dates, Decimal (Numeric) and bool (Boolean) itself; JSON columns are sent as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.schema import Table

from ibr_service.store_sql.registry import KEEP_ON_UPDATE, UPSERT_KEYS
from ibr_service.store_sql.rows import RegistryRows, Row
from ibr_service.store_sql.tables import metadata

__all__ = ["APPEND_ONLY", "copy_rows", "merge_with_copy"]


APPEND_ONLY = frozenset({"enrolment_status_history", "benefit_history", "subject_area_history"})
"""History tables: each row has a fresh `change_id` (`rows._change_id`, unique per process and
strictly increasing), so a row can never meet an existing one and is copied straight into the
table, without a staging table and a merge."""


def merge_with_copy(connection: Connection, batch: RegistryRows) -> None:
    """Write `batch` with COPY + set-wise merge on the connection's open transaction.

    A row whose leading key is not stored yet (one indexed probe per table tells which are)
    is written by a plain COPY, as history rows always are: the staging table and the merge
    cost about as much again as the COPY, and most rows of a large write are new. Only the rows
    whose key is stored go through the staging table and the merge. The plain COPYs run in a
    savepoint: should a row with one of those keys be written meanwhile (a concurrent batch),
    the savepoint is rolled back and every row is merged, so the result is the upsert's.
    """
    # A subject and its source record carry the same document object: serialise it once.
    json_text: dict[int, str] = {}
    tables = [(metadata.tables[name], rows_) for name, rows_ in batch.by_table() if rows_]
    # Rows keyed by subject are stored with their subject: one probe of `subjects` answers for
    # every such table (were a row stored without its subject, the savepoint catches it).
    subject_keys = {
        row["subject_key"]
        for table, table_rows in tables
        if table.name not in APPEND_ONLY and _leading_key(table) == "subject_key"
        for row in table_rows
    }
    stored_subjects = (
        _stored(connection, metadata.tables["subjects"], subject_keys) if subject_keys else set()
    )
    split: list[tuple[Table, list[Row], list[Row]]] = []
    for table, table_rows in tables:
        if table.name in APPEND_ONLY:
            split.append((table, list(table_rows), []))
            continue
        key = _leading_key(table)
        stored = (
            stored_subjects
            if key == "subject_key"
            else _stored(connection, table, {row[key] for row in table_rows})
        )
        new = [row for row in table_rows if row[key] not in stored]
        split.append((table, new, [row for row in table_rows if row[key] in stored]))
    if not any(new for _, new, _ in split):
        _merge_all(connection, tables, json_text)
        return
    savepoint = connection.begin_nested()
    try:
        for table, new, old in split:
            if new:
                columns = [c.name for c in table.columns]
                copy_rows(
                    connection,
                    table.name,
                    columns,
                    new,
                    json_columns=_json_columns(table),
                    json_text=json_text,
                )
            if old:
                merge_table(connection, table, old, json_text=json_text)
    except Exception as exc:
        savepoint.rollback()
        if not _unique_violation(exc):
            raise
        _merge_all(connection, tables, json_text)
    else:
        savepoint.commit()


def _merge_all(
    connection: Connection, tables: Sequence[tuple[Table, Sequence[Row]]], json_text: dict[int, str]
) -> None:
    for table, table_rows in tables:
        merge_table(connection, table, table_rows, json_text=json_text)


def _leading_key(table: Table) -> str:
    return str(next(iter(table.primary_key.columns)).name)


def _stored(connection: Connection, table: Table, values: set[Any]) -> set[Any]:
    """Those of `values` that `table` holds in its leading key column."""
    column = table.c[_leading_key(table)]
    probe = (
        select(column)
        .distinct()
        .where(column == func.any(bindparam(None, sorted(map(str, values)), type_=ARRAY(String))))
    )
    return set(connection.execute(probe).scalars())


def _unique_violation(exc: BaseException) -> bool:
    """A duplicate key, as psycopg (`sqlstate`) or psycopg2 under Odoo (`pgcode`) reports it."""
    for error in (exc, getattr(exc, "orig", None)):
        if error is not None and "23505" in (
            getattr(error, "sqlstate", None),
            getattr(error, "pgcode", None),
        ):
            return True
    return False


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
            try:
                text = orjson.dumps(value).decode()
            except orjson.JSONEncodeError:  # beyond orjson (an integer over 64 bits)
                text = json.dumps(value, separators=(",", ":"))
            memo[id(value)] = text
        return text

    driver: Any = connection.connection.driver_connection
    quoted = ", ".join(f'"{c}"' for c in columns)
    json_at = [i for i, c in enumerate(columns) if c in json_columns]
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table_name} ({quoted}) FROM STDIN") as copy,
    ):
        write = copy.write_row
        if not json_at:
            for row in table_rows:
                write([row[c] for c in columns])
            return
        for row in table_rows:
            values = [row[c] for c in columns]
            for i in json_at:
                if values[i] is not None:
                    values[i] = as_json(values[i])
            write(values)


def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
