"""The core's tables in Odoo's database: created at install, stamped with the alembic head.

`metadata.create_all` runs on Odoo's own cursor (so a failed install leaves nothing behind), in
the schema `ibr`; the alembic version table there records the migration the tables match, so a
later core migration can be applied with `ibr db upgrade` on a URL whose search_path is `ibr`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ibr_service.store_sql import metadata
from ibr_service.store_sql.migrate import MIGRATIONS_DIR

if TYPE_CHECKING:
    from .odoo_store import OdooStore

__all__ = ["KEY_ID_FUNCTION", "core_columns", "create_core_schema"]

KEY_ID_FUNCTION = "ibr.key_id"
"""SQL function giving the integer id (52 bits, safe in JavaScript) of a text key: the `id` of
the Odoo models that are views over the core's tables, whose keys are text."""

# (table, key expression) whose integer id the Odoo views look records up by.
_ID_INDEXES = (
    ("subjects", "subject_key"),
    ("programmes", "programme_identifier"),
    ("enrolments", "enrolment_key"),
    ("clients", "sender_id"),
    ("transactions", "correlation_id"),
)


def create_core_schema(store: OdooStore) -> None:
    """Create the schema, the core's tables and the id function; idempotent."""
    cr = store.env.cr
    cr.execute("CREATE SCHEMA IF NOT EXISTS ibr")
    with store.connection() as connection:
        metadata.create_all(connection)
        context = MigrationContext.configure(connection)
        if context.get_current_revision() is None:
            context.stamp(ScriptDirectory(str(MIGRATIONS_DIR)), "heads")
        connection.exec_driver_sql(
            f"CREATE OR REPLACE FUNCTION {KEY_ID_FUNCTION}(key text) RETURNS bigint "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            "AS $$ SELECT ('x' || substr(md5(key), 1, 13))::bit(52)::bigint $$"
        )
        for table, key in _ID_INDEXES:
            connection.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS odoo_{table}_id ON ibr.{table} "
                f"({KEY_ID_FUNCTION}({key}))"
            )


def core_columns(cr: object, table: str) -> set[str]:
    """The columns a core table has now (the registry model grows; views adapt)."""
    cr.execute(  # type: ignore[attr-defined]
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'ibr' AND table_name = %s",
        (table,),
    )
    return {name for (name,) in cr.fetchall()}  # type: ignore[attr-defined]
