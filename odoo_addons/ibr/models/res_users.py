from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    ibr_area_codes = fields.Char(
        "IBR areas",
        help="Comma-separated area codes (any level) whose beneficiaries this officer may read. "
        "Empty: none (managers read every area).",
    )
    ibr_programme_codes = fields.Char(
        "IBR programmes",
        help="Comma-separated programme codes whose enrolments this officer may read. "
        "Empty: none (managers read every programme).",
    )
