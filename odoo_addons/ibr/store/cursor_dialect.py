"""SQLAlchemy on the connection of an Odoo cursor.

The core's SQL store (`ibr_service.store_sql`) runs unchanged inside Odoo: every statement goes
through the psycopg2 connection of the request's Odoo cursor, so what the core writes commits or
rolls back with Odoo's own transaction. Odoo owns that connection: this dialect never commits,
rolls back or closes it, and it offers the small part of psycopg 3's COPY API that the store's bulk
path uses (`cursor.copy(...).write_row(...)`) over psycopg2's `copy_expert`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg2 import (
    PGDialect_psycopg2,
    PGExecutionContext_psycopg2,
)
from sqlalchemy.pool import NullPool

__all__ = ["CURRENT_CONNECTION", "cursor_engine"]

CURRENT_CONNECTION: ContextVar[Any] = ContextVar("ibr_odoo_connection")
"""The psycopg2 connection of the Odoo cursor a store transaction runs on (set by OdooStore)."""


class _ExecutionContext(PGExecutionContext_psycopg2):
    def create_default_cursor(self) -> Any:
        """A cursor that reads NUMERIC as Decimal, as the core expects.

        Odoo registers a process-wide typecaster that reads NUMERIC as float (for its own
        fields); registered on our cursor only, psycopg2's Decimal casters win for the core's
        queries and Odoo keeps its floats everywhere else.
        """
        import psycopg2.extensions as ext

        cursor = super().create_default_cursor()
        ext.register_type(ext.DECIMAL, cursor)
        ext.register_type(ext.DECIMALARRAY, cursor)
        return cursor


class OdooCursorDialect(PGDialect_psycopg2):
    """psycopg2 on a borrowed connection: transaction control stays with Odoo."""

    supports_statement_cache = True
    execution_ctx_cls = _ExecutionContext

    def do_commit(self, dbapi_connection: Any) -> None:
        """Odoo commits (the store's unit of work is a savepoint)."""

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Odoo rolls back (a failed unit of work rolls back to its savepoint)."""

    def do_close(self, dbapi_connection: Any) -> None:
        """The connection goes back to Odoo's pool, not ours."""

    def on_connect(self) -> None:
        """Odoo has configured the connection; register nothing on it."""
        return None

    def get_driver_connection(self, connection: Any) -> Any:
        return _CopyingConnection(connection)


class _CopyingConnection:
    """What `store_sql.bulk.copy_rows` sees as the driver connection."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def cursor(self) -> _CopyingCursor:
        return _CopyingCursor(self._connection.cursor())


class _CopyingCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __enter__(self) -> _CopyingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()

    @contextmanager
    def copy(self, statement: str) -> Iterator[_RowWriter]:  # pylint: disable=method-required-super
        writer = _RowWriter()
        yield writer
        writer.buffer.seek(0)
        self._cursor.copy_expert(statement, writer.buffer)


class _RowWriter:
    """Rows in PostgreSQL's COPY text format (tab-separated, `\\N` for NULL)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write_row(self, values: Sequence[Any]) -> None:
        self.buffer.write("\t".join(_copy_text(v) for v in values))
        self.buffer.write("\n")


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


registry.register("postgresql.odoo_cursor", __name__, "OdooCursorDialect")

_ENGINE: Engine | None = None


def cursor_engine() -> Engine:
    """The one engine of the process; each checkout hands out `CURRENT_CONNECTION`."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = create_engine(
            "postgresql+odoo_cursor://",
            creator=CURRENT_CONNECTION.get,
            poolclass=NullPool,
            use_native_hstore=False,
        )
    return _ENGINE
