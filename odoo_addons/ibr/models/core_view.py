"""Odoo models that are read-only SQL views over the core's tables (schema `ibr`).

Officers read the registry through these; every change goes through a core function. The `id`
of a row is `ibr.key_id(<its text key>)`, backed by an expression index on the core table.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..store.schema import core_columns
from .subject_sql import AGE_BANDS, KINDS


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

    # The views hold the core's data: nothing is created, written or deleted through the ORM
    # (the SQL views also refuse it), so these never reach super().
    @api.model_create_multi
    def create(self, vals_list):  # pylint: disable=method-required-super
        raise UserError(self._read_only_message())

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self._read_only_message())

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self._read_only_message())

    def _read_only_message(self):
        return self.env._("The registry is read-only here: SP-MIS change it through the DCI API.")

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
                # Selecting from a subquery makes the view not auto-updatable: nothing but the
                # core writes the core's tables.
                "CREATE VIEW %s AS (SELECT * FROM (%s) AS core_rows)",
                SQL.identifier(self._table),
                SQL(self._view_query(column)),  # our own SQL text, no user input
            )
        )


class IbrAreaFields(models.AbstractModel):
    """Who a row is about: the filters and group-bys officers use, and what record rules read."""

    _name = "ibr.subject.facets"
    _description = "Facets of an IBR subject"

    kind = fields.Selection(KINDS, readonly=True)
    sex = fields.Char(readonly=True)
    age = fields.Integer(readonly=True)
    age_band = fields.Selection(AGE_BANDS, readonly=True)
    area_level_1 = fields.Char("Region", readonly=True)
    area_level_2 = fields.Char("District", readonly=True)
    area_code = fields.Char("Area", readonly=True)
