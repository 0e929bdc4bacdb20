"""Fast PostgreSQL load: COPY each block's CSV into a staging schema owned by mock data.

The staging tables mirror `tables.COLUMNS`, one table per entity, in schema `ibr_mock`. They are
not the IBR service's tables: an IBR (or a test) reads them and loads its own store.
"""

from __future__ import annotations

from types import TracebackType

import psycopg
from psycopg import sql

from ibr_mock_data.tables import COLUMNS

__all__ = ["SCHEMA", "StagingLoader", "staging_ddl"]

SCHEMA = "ibr_mock"

_TYPES: dict[str, str] = {
    "poverty_score": "numeric(5,1)",
    "household_size": "integer",
    "interval": "integer",
    "seq": "integer",
    "benefit_quantity": "integer",
    "amount": "numeric(14,2)",
    "is_disabled": "boolean",
}
_DATES = ("_date", "period_start", "period_end")
_KEYS = {
    "households": "household_id",
    "persons": "person_id",
    "programmes": "programme_code",
    "enrolments": "record_id",
    "benefits": "benefit_id",
    "truth": "case_id",
}


def _column_type(column: str) -> str:
    if column in _TYPES:
        return _TYPES[column]
    if column.endswith(_DATES) or column in _DATES:
        return "date"
    return "text"


def staging_ddl() -> list[sql.Composed]:
    """CREATE statements of the staging schema (tables without keys, for COPY speed)."""
    statements = [sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA))]
    for entity, columns in COLUMNS.items():
        statements.append(
            sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
                sql.Identifier(SCHEMA), sql.Identifier(entity)
            )
        )
        statements.append(
            sql.SQL("CREATE UNLOGGED TABLE {}.{} ({})").format(
                sql.Identifier(SCHEMA),
                sql.Identifier(entity),
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_column_type(c)))
                    for c in columns
                ),
            )
        )
    return statements


class StagingLoader:
    """Context manager: recreates the staging tables, COPYs blocks, adds keys at the end."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.connection: psycopg.Connection[tuple[object, ...]] | None = None

    def __enter__(self) -> StagingLoader:
        self.connection = psycopg.connect(self.database_url, autocommit=False)
        with self.connection.cursor() as cursor:
            for statement in staging_ddl():
                cursor.execute(statement)
        self.connection.commit()
        return self

    def load(self, csv_by_entity: dict[str, str]) -> None:
        """COPY one block: `csv_by_entity` maps entity to headerless CSV text."""
        assert self.connection is not None, "use StagingLoader as a context manager"
        with self.connection.cursor() as cursor:
            for entity, text in csv_by_entity.items():
                if not text:
                    continue
                statement = sql.SQL("COPY {}.{} FROM STDIN (FORMAT csv)").format(
                    sql.Identifier(SCHEMA), sql.Identifier(entity)
                )
                with cursor.copy(statement) as copy:
                    copy.write(text)
        self.connection.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.connection is not None
        try:
            if exc_type is None:
                with self.connection.cursor() as cursor:
                    for entity, key in _KEYS.items():
                        cursor.execute(
                            sql.SQL("ALTER TABLE {}.{} ADD PRIMARY KEY ({})").format(
                                sql.Identifier(SCHEMA), sql.Identifier(entity), sql.Identifier(key)
                            )
                        )
                self.connection.commit()
            else:
                self.connection.rollback()
        finally:
            self.connection.close()
