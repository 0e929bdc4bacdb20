"""The PostgreSQL large-batch path: COPY into temporary staging tables, then set-wise merges.

Used by `SqlTransaction.apply_enrolment_updates` when a batch reaches `bulk_threshold`. The merge
decision (`rows.decide`) is the same as on the executemany path, so outcomes are identical; only
the way rows reach the tables differs: one COPY stream per table and one
`INSERT ... SELECT ... ON CONFLICT DO UPDATE` per table, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.schema import Table

from ibr_service.store_sql.rows import BatchRows, Row
from ibr_service.store_sql.tables import (
    benefits,
    enrolment_status_history,
    enrolments,
    identifiers,
    memberships,
    programmes,
    subjects,
)

__all__ = ["copy_rows", "merge_with_copy"]

# (table, conflict key or None for DO NOTHING on any conflict, rows attribute of BatchRows)
_PLAN: tuple[tuple[Table, tuple[str, ...] | None, str], ...] = (
    (subjects, ("subject_key",), "subjects"),
    (identifiers, None, "identifiers"),
    (memberships, None, "memberships"),
    (programmes, ("programme_identifier",), "programmes"),
    (enrolments, ("subject_key", "enrolment_key"), "enrolments"),
    (enrolment_status_history, None, "history"),
    (benefits, ("subject_key", "enrolment_key", "benefit_key"), "benefits"),
)


def merge_with_copy(connection: Connection, batch: BatchRows) -> None:
    """Write `batch` with COPY + set-wise merge on the connection's open transaction."""
    for table, conflict_key, attribute in _PLAN:
        table_rows: list[Row] = getattr(batch, attribute)
        if not table_rows:
            continue
        stage = f"stage_{table.name}"
        columns = [c.name for c in table.columns]
        # Identifiers below are our own table/column names (never client input).
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        connection.exec_driver_sql(f"TRUNCATE {stage}")
        copy_rows(connection, stage, columns, table_rows, json_columns=_json_columns(table))
        column_list = ", ".join(columns)
        if conflict_key is None:
            conflict = "ON CONFLICT DO NOTHING"
        else:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in conflict_key)
            conflict = f"ON CONFLICT ({', '.join(conflict_key)}) DO UPDATE SET {updates}"
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
) -> None:
    """Stream rows into `table_name` with COPY FROM STDIN on the connection's transaction."""
    driver: Any = connection.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in table_rows:
            copy.write_row(
                [
                    json.dumps(row[c], separators=(",", ":"))
                    if c in json_columns and row[c] is not None
                    else row[c]
                    for c in columns
                ]
            )


def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if c.name in ("document",))
