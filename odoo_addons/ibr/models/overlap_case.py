"""Overlap cases: one person (or household) in two programmes the rules say do not combine.

Detected and decided by the core's analytics (`ibr_service.analytics.cases`); the decision
(confirmed, false positive, exempted) is recorded on the case and audited there.
"""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ibr_protocol.clock import utc_now

from ..store import OdooStore
from .subject_sql import subject_columns

DECISIONS = [
    ("open", "Open"),
    ("confirmed", "Confirmed"),
    ("false_positive", "False positive"),
    ("exempted", "Exempted"),
]


class IbrOverlapCase(models.Model):
    _name = "ibr.overlap.case"
    _inherit = ["ibr.core.view", "ibr.subject.facets"]
    _description = "IBR overlap case"
    _order = "detected_at desc, id"
    _rec_name = "case_id"
    _auto = False

    case_id = fields.Char(readonly=True)
    unit = fields.Selection([("person", "Person"), ("household", "Household")], readonly=True)
    subject_id = fields.Many2one("ibr.subject", "Person or household", readonly=True)
    programme_a = fields.Char("Programme", readonly=True)
    programme_b = fields.Char("Other programme", readonly=True)
    status = fields.Selection(DECISIONS, readonly=True)
    evidence = fields.Text(readonly=True)
    detected_at = fields.Datetime(readonly=True)
    decided_at = fields.Datetime(readonly=True)
    decided_by = fields.Char(readonly=True)
    note = fields.Text(readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(o.case_id) AS id, o.case_id, o.unit,
                   ibr.key_id(o.identity_key) AS subject_id,
                   o.programme_a, o.programme_b, o.status, o.evidence::text AS evidence,
                   o.detected_at AT TIME ZONE 'UTC' AS detected_at,
                   o.decided_at AT TIME ZONE 'UTC' AS decided_at,
                   o.decided_by, o.note,
                   {subject_columns(column)}
              FROM ibr.overlap_cases o
              LEFT JOIN ibr.subjects s ON s.subject_key = o.identity_key
        """

    def action_confirm(self):
        return self._decide("confirmed")

    def action_false_positive(self):
        return self._decide("false_positive")

    def action_exempt(self):
        return self._decide("exempted")

    def _decide(self, decision):
        from ibr_service.analytics.cases import decide_case  # pandas: loaded when used
        from ibr_service.analytics.errors import AnalyticsError

        if not self.env.user.has_group("ibr.group_ibr_officer"):
            raise AccessError(self.env._("Only registry officers decide overlap cases."))
        self.check_access("read")  # record rules: only the cases of the officer's areas
        store = OdooStore(self.env)
        for case in self:
            try:
                decide_case(store, case.case_id, decision, actor=self.env.user.login, now=utc_now())
            except AnalyticsError as exc:
                raise UserError(str(exc)) from exc
        return True

    @api.model
    def action_recompute(self):
        """Detect the overlaps of the whole registry with the shipped programme rules."""
        from ibr_service.analytics.cases import recompute_overlaps
        from ibr_service.analytics.rules import load_rules

        if not self.env.user.has_group("ibr.group_ibr_manager"):
            raise AccessError(self.env._("Only registry managers recompute overlaps."))
        store = OdooStore(self.env)
        # The analytics read through the store's engine: bound here to Odoo's cursor.
        with store.connection():
            new = recompute_overlaps(store, load_rules(), utc_now())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Overlaps"),
                "message": self.env._("%(n)s new overlap case(s).", n=len(new)),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
