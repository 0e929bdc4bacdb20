"""`OdooStore`: the core's SQL store on the Odoo cursor of the current environment.

The core's tables live in Odoo's own database, in the schema `ibr` (created at install by
`schema.create_core_schema`). A unit of work is a savepoint inside Odoo's transaction: it rolls
back alone when it fails and commits only when Odoo commits the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from ibr_service.core.errors import StoreError
from ibr_service.store_sql import SqlStore, SqlTransaction

from .cursor_dialect import CURRENT_CONNECTION, cursor_engine

__all__ = ["CORE_SCHEMA", "OdooStore"]

CORE_SCHEMA = "ibr"


class OdooStore(SqlStore):
    """A `Store` whose every statement runs in the transaction of `env.cr`."""

    def __init__(self, env: Any, *, bulk_threshold: int = 2000) -> None:
        super().__init__(cursor_engine(), bulk_threshold=bulk_threshold)
        self.env = env

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self.connection() as connection:
            yield SqlTransaction(connection, self)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A SQLAlchemy connection on Odoo's cursor, inside a savepoint, the core's schema first.

        The ORM's pending writes are flushed before and its cache is invalidated after, so Odoo
        models (the SQL views over the core's tables) see what the core wrote.
        """
        cr = self.env.cr
        self.env.flush_all()
        token = CURRENT_CONNECTION.set(cr._cnx)
        try:
            with cr.savepoint(flush=False), cursor_engine().connect() as connection:
                previous = connection.exec_driver_sql("SHOW search_path").scalar_one()
                # SET LOCAL inside the savepoint: a rollback to it restores the path by itself.
                connection.exec_driver_sql(f"SET LOCAL search_path TO {CORE_SCHEMA}, public")
                yield connection
                connection.exec_driver_sql(
                    "SELECT set_config('search_path', %(path)s, true)", {"path": previous}
                )
        except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
            raise StoreError(f"the database refused the write: {exc.orig}"[:500]) from exc
        finally:
            CURRENT_CONNECTION.reset(token)
            self.env.invalidate_all()

    def create_all(self) -> None:
        """Create the core's tables in the core's schema (tests; the add-on uses its hook)."""
        from .schema import create_core_schema

        create_core_schema(self)
