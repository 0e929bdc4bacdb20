from odoo import fields, models

from .codes import code_selection
from .subject_sql import subject_columns


class IbrEnrolment(models.Model):
    _name = "ibr.enrolment"
    _inherit = ["ibr.core.view", "ibr.subject.facets"]
    _description = "IBR enrolment of a subject in a programme"
    _order = "programme_identifier, id"
    _rec_name = "enrolment_key"
    _auto = False

    enrolment_key = fields.Char(readonly=True)
    subject_id = fields.Many2one("ibr.subject", "Beneficiary", readonly=True)
    programme_id = fields.Many2one("ibr.programme", readonly=True)
    programme_identifier = fields.Char("Programme code", readonly=True)
    enrolment_status = fields.Selection(code_selection("enrolment_status"), "Status", readonly=True)
    enrolment_date = fields.Date(readonly=True)
    status_change_date = fields.Date(readonly=True)
    status_reason = fields.Char(readonly=True)
    beneficiary_programme_id = fields.Char("Programme record id", readonly=True)
    source = fields.Char("Source (SP-MIS)", readonly=True)
    updated_at = fields.Datetime("Last updated", readonly=True)
    status_history_ids = fields.One2many("ibr.enrolment.status", "enrolment_id", readonly=True)
    benefit_ids = fields.One2many("ibr.benefit", "enrolment_id", readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(e.enrolment_key) AS id,
                   e.enrolment_key,
                   ibr.key_id(e.subject_key) AS subject_id,
                   ibr.key_id(e.programme_identifier) AS programme_id,
                   e.programme_identifier, e.enrolment_status, e.enrolment_date,
                   e.status_change_date, e.status_reason, e.beneficiary_programme_id,
                   e.sender_id AS source,
                   e.updated_at AT TIME ZONE 'UTC' AS updated_at,
                   {subject_columns(column)}
              FROM ibr.enrolments e JOIN ibr.subjects s ON s.subject_key = e.subject_key
        """


class IbrEnrolmentStatus(models.Model):
    _name = "ibr.enrolment.status"
    _inherit = ["ibr.core.view", "ibr.subject.facets"]
    _description = "IBR enrolment status change"
    _order = "recorded_at, id"
    _auto = False

    enrolment_id = fields.Many2one("ibr.enrolment", readonly=True)
    subject_id = fields.Many2one("ibr.subject", readonly=True)
    programme_identifier = fields.Char("Programme code", readonly=True)
    enrolment_status = fields.Selection(code_selection("enrolment_status"), "Status", readonly=True)
    status_change_date = fields.Date(readonly=True)
    status_reason = fields.Char(readonly=True)
    applied = fields.Boolean(readonly=True)
    recorded_at = fields.Datetime(readonly=True)
    source = fields.Char("Source (SP-MIS)", readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(h.subject_key || '|' || h.change_id) AS id,
                   ibr.key_id(h.enrolment_key) AS enrolment_id,
                   ibr.key_id(h.subject_key) AS subject_id,
                   e.programme_identifier,
                   h.enrolment_status, h.status_change_date, h.status_reason,
                   {column("h", "enrolment_status_history", "applied", "true")} AS applied,
                   h.recorded_at AT TIME ZONE 'UTC' AS recorded_at,
                   h.sender_id AS source,
                   {subject_columns(column)}
              FROM ibr.enrolment_status_history h
              JOIN ibr.subjects s ON s.subject_key = h.subject_key
              LEFT JOIN ibr.enrolments e ON e.subject_key = h.subject_key
                                        AND e.enrolment_key = h.enrolment_key
        """


class IbrBenefit(models.Model):
    _name = "ibr.benefit"
    _inherit = ["ibr.core.view", "ibr.subject.facets"]
    _description = "IBR benefit"
    _order = "benefit_date desc, id"
    _rec_name = "benefit_key"
    _auto = False

    benefit_key = fields.Char(readonly=True)
    enrolment_id = fields.Many2one("ibr.enrolment", readonly=True)
    subject_id = fields.Many2one("ibr.subject", "Beneficiary", readonly=True)
    programme_id = fields.Many2one("ibr.programme", readonly=True)
    programme_identifier = fields.Char("Programme code", readonly=True)
    benefit_type = fields.Selection(code_selection("benefit_type"), readonly=True)
    benefit_date = fields.Date(readonly=True)
    amount = fields.Float(readonly=True, aggregator="sum")
    currency = fields.Char(readonly=True)
    period_start = fields.Date(readonly=True)
    period_end = fields.Date(readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(b.subject_key || '|' || b.enrolment_key || '|' || b.benefit_key)
                       AS id,
                   b.benefit_key,
                   ibr.key_id(b.enrolment_key) AS enrolment_id,
                   ibr.key_id(b.subject_key) AS subject_id,
                   ibr.key_id(e.programme_identifier) AS programme_id,
                   e.programme_identifier,
                   b.benefit_type, b.benefit_date,
                   CASE WHEN b.amount::text ~ '^-?[0-9]+([.][0-9]+)?$'
                        THEN b.amount::text::double precision END AS amount,
                   b.currency, b.period_start, b.period_end,
                   {subject_columns(column)}
              FROM ibr.benefits b
              JOIN ibr.subjects s ON s.subject_key = b.subject_key
              LEFT JOIN ibr.enrolments e ON e.subject_key = b.subject_key
                                        AND e.enrolment_key = b.enrolment_key
        """
