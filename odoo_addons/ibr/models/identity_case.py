"""Identity cases: linkages the IBR refused to decide alone, resolved by an officer's decision.

The decision is the core's (`ibr_service.core.stewardship`): merge or dismiss, audited there.
"""

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from ibr_protocol.clock import utc_now
from ibr_service.core import IbrCoreError
from ibr_service.core.stewardship import dismiss_case, merge_case

from ..store import OdooStore
from .subject_sql import subject_columns


class IbrIdentityCase(models.Model):
    _name = "ibr.identity.case"
    _inherit = ["ibr.core.view", "ibr.subject.facets"]
    _description = "IBR identity case"
    _order = "opened_at desc, id"
    _rec_name = "case_id"
    _auto = False

    case_id = fields.Char(readonly=True)
    case_kind = fields.Selection(
        [
            ("identifier_conflict", "Identifiers point to several subjects"),
            ("demographic_clash", "Same identifier, different person"),
        ],
        "Case",
        readonly=True,
    )
    status = fields.Selection(
        [("open", "Open"), ("merged", "Merged"), ("dismissed", "Dismissed")], readonly=True
    )
    subject_a_id = fields.Many2one("ibr.subject", "Subject", readonly=True)
    subject_b_id = fields.Many2one("ibr.subject", "Other subject", readonly=True)
    identifier_type = fields.Char(readonly=True)
    identifier_value = fields.Char(readonly=True)
    evidence = fields.Text(readonly=True)
    source = fields.Char("Source (SP-MIS)", readonly=True)
    programme_identifier = fields.Char("Programme code", readonly=True)
    opened_at = fields.Datetime(readonly=True)
    decided_at = fields.Datetime(readonly=True)
    decided_by = fields.Char(readonly=True)
    note = fields.Text(readonly=True)

    def _view_query(self, column):
        return f"""
            SELECT ibr.key_id(c.case_id) AS id, c.case_id, c.kind AS case_kind, c.status,
                   ibr.key_id(c.subject_keys ->> 0) AS subject_a_id,
                   ibr.key_id(c.subject_keys ->> 1) AS subject_b_id,
                   c.identifier_type, c.identifier_value, c.evidence::text AS evidence,
                   c.sender_id AS source, c.programme_identifier,
                   c.opened_at AT TIME ZONE 'UTC' AS opened_at,
                   c.decided_at AT TIME ZONE 'UTC' AS decided_at,
                   c.decided_by, c.note,
                   {subject_columns(column)}
              FROM ibr.identity_cases c
              LEFT JOIN ibr.subjects s ON s.subject_key = c.subject_keys ->> 0
        """

    def action_merge_into_subject(self):
        """Same person: the other subject's records move into the first subject."""
        return self._decide(
            lambda store, case: merge_case(
                store, case.case_id, **self._by(into=case.subject_a_id.sudo().subject_key)
            )
        )

    def action_merge_into_other(self):
        """Same person: the first subject's records move into the other subject."""
        return self._decide(
            lambda store, case: merge_case(
                store, case.case_id, **self._by(into=case.subject_b_id.sudo().subject_key)
            )
        )

    def action_dismiss(self):
        """Different people: the subjects stay apart."""
        return self._decide(lambda store, case: dismiss_case(store, case.case_id, **self._by()))

    def _by(self, **options):
        return {"actor": self.env.user.login, "now": utc_now(), **options}

    def _decide(self, decision):
        if not self.env.user.has_group("ibr.group_ibr_officer"):
            raise AccessError(self.env._("Only registry officers decide identity cases."))
        self.check_access("read")  # record rules: only the cases of the officer's areas
        store = OdooStore(self.env)
        for case in self:
            try:
                decision(store, case)
            except IbrCoreError as exc:
                raise UserError(exc.message) from exc
        return True
