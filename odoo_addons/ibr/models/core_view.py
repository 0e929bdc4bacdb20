"""Odoo models that are read-only SQL views over the core's tables (schema `ibr`).

Officers read the registry through these; every change goes through a core function. The `id`
of a row is `ibr.key_id(<its text key>)`, backed by an expression index on the core table.
"""

from odoo import models
from odoo.tools import SQL

from ..store.schema import core_columns


class IbrCoreView(models.AbstractModel):
    _name = "ibr.core.view"
    _description = "Read-only view over a table of the IBR core"
    _auto = False
    _log_access = False

    def _view_query(self, column):
        """The SELECT of the view (no `%` in it). `column(alias, table, name, fallback_sql)` is
        `alias.name` when the core table has that column, else the fallback: the registry model
        is growing, and the views follow the tables the installed core has."""
        raise NotImplementedError

    def init(self):
        if self._abstract:
            return
        cache = {}

        def column(alias, table, name, fallback="NULL"):
            if table not in cache:
                cache[table] = core_columns(self.env.cr, table)
            return f"{alias}.{name}" if name in cache[table] else fallback

        self.env.cr.execute(SQL("DROP VIEW IF EXISTS %s CASCADE", SQL.identifier(self._table)))
        self.env.cr.execute(
            SQL(
                "CREATE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                SQL(self._view_query(column)),  # our own SQL text, no user input
            )
        )
