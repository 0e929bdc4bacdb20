from odoo import fields, models


class IbrProgramme(models.Model):
    _name = "ibr.programme"
    _inherit = ["ibr.core.view"]
    _description = "IBR programme"
    _order = "name"
    _auto = False

    programme_identifier = fields.Char("Code", readonly=True)
    name = fields.Char(readonly=True)
    enrolment_count = fields.Integer("Enrolments", readonly=True)
    beneficiary_count = fields.Integer("Beneficiaries", readonly=True)
    active_count = fields.Integer("Active enrolments", readonly=True)
    updated_at = fields.Datetime("Last updated", readonly=True)
    enrolment_ids = fields.One2many("ibr.enrolment", "programme_id", readonly=True)

    def _view_query(self, column):
        return """
            SELECT ibr.key_id(p.programme_identifier) AS id,
                   p.programme_identifier,
                   coalesce(p.programme_name, p.programme_identifier) AS name,
                   count(e.enrolment_key) AS enrolment_count,
                   count(DISTINCT e.subject_key) AS beneficiary_count,
                   count(e.enrolment_key) FILTER (WHERE e.enrolment_status = '1') AS active_count,
                   p.updated_at AT TIME ZONE 'UTC' AS updated_at
              FROM ibr.programmes p
              LEFT JOIN ibr.enrolments e ON e.programme_identifier = p.programme_identifier
             GROUP BY p.programme_identifier, p.programme_name, p.updated_at
        """
