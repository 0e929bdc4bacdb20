from odoo import api, fields, models

from .subject_sql import subject_columns


class IbrSubject(models.Model):
    _name = "ibr.subject"
    _inherit = ["ibr.core.view", "ibr.subject.facets", "ibr.personal.data"]
    _description = "IBR subject (person or group)"
    _order = "surname, given_name, id"
    _rec_name = "name"
    _auto = False
    _ibr_personal_fields = frozenset(
        {
            "name",
            "given_name",
            "surname",
            "birth_date",
            "death_date",
            "identifier_text",
            "identifier_ids",
        }
    )

    subject_key = fields.Char("Registry key", readonly=True)
    name = fields.Char(readonly=True)
    given_name = fields.Char(readonly=True)
    surname = fields.Char(readonly=True)
    birth_date = fields.Date(readonly=True)
    death_date = fields.Date(readonly=True)
    group_type = fields.Char(readonly=True)
    group_size = fields.Integer(readonly=True)
    poverty_score = fields.Float(readonly=True)
    identifier_text = fields.Char("Identifiers", readonly=True)
    created_at = fields.Datetime("First seen", readonly=True)
    updated_at = fields.Datetime("Last updated", readonly=True)
    identifier_ids = fields.One2many("ibr.identifier", "subject_id", readonly=True)
    enrolment_ids = fields.One2many("ibr.enrolment", "subject_id", readonly=True)
    benefit_ids = fields.One2many("ibr.benefit", "subject_id", readonly=True)
    programme_count = fields.Integer(compute="_compute_totals")
    active_programme_count = fields.Integer("Active programmes", compute="_compute_totals")
    benefit_total = fields.Float(compute="_compute_totals")

    @api.depends("enrolment_ids", "benefit_ids")
    def _compute_totals(self):
        for subject in self:
            enrolments = subject.enrolment_ids
            subject.programme_count = len(enrolments.mapped("programme_identifier"))
            subject.active_programme_count = len(
                enrolments.filtered(lambda e: e.enrolment_status == "1")
            )
            subject.benefit_total = sum(subject.benefit_ids.mapped("amount"))

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(s.subject_key) AS id,
                   s.subject_key,
                   coalesce(nullif(trim(concat_ws(' ', s.given_name, s.surname)), ''),
                            s.subject_key) AS name,
                   s.given_name, s.surname, s.birth_date, s.death_date,
                   s.group_type, s.group_size, s.poverty_score,
                   (SELECT string_agg(i.identifier_type || ' ' || i.identifier_value, ', '
                                      ORDER BY i.identifier_type, i.identifier_value)
                      FROM ibr.identifiers i WHERE i.subject_key = s.subject_key
                   ) AS identifier_text,
                   s.created_at AT TIME ZONE 'UTC' AS created_at,
                   s.updated_at AT TIME ZONE 'UTC' AS updated_at,
                   {subject_columns(column)}
              FROM ibr.subjects s
        """


class IbrIdentifier(models.Model):
    _name = "ibr.identifier"
    _inherit = ["ibr.core.view", "ibr.subject.facets", "ibr.personal.data"]
    _description = "IBR identifier of a subject"
    _order = "identifier_type, identifier_value"
    _rec_name = "identifier_value"
    _auto = False
    _ibr_personal_fields = frozenset({"identifier_value"})
    _ibr_subject_key_path = "subject_id.subject_key"

    subject_id = fields.Many2one("ibr.subject", readonly=True)
    identifier_type = fields.Char("Type", readonly=True)
    identifier_value = fields.Char("Value", readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(i.subject_key || '|' || i.identifier_type || '|'
                              || i.identifier_value) AS id,
                   ibr.key_id(i.subject_key) AS subject_id,
                   i.identifier_type, i.identifier_value,
                   {subject_columns(column)}
              FROM ibr.identifiers i JOIN ibr.subjects s ON s.subject_key = i.subject_key
        """
