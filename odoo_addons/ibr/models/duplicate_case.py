"""Duplicate cases: one identity holding two records of one programme.

Detected by the core's analytics (`ibr_service.analytics.duplicates.exact_duplicates` over the
registry's frames, read on Odoo's cursor); the core keeps no table of duplicate cases, so the
add-on keeps the cases and their decisions in an Odoo model. A recompute adds the pairs not
seen before and keeps every decision. An officer decides a case (confirm, false positive,
exempt); the decision is recorded on the case and appended to the core's audit chain
(`duplicate_case.<decision>`; no personal data: the subject is the case key).
"""

import hashlib

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ibr_protocol.clock import utc_now
from ibr_service.core.audit import append_audit

from ..store import OdooStore

DECISIONS = [
    ("open", "Open"),
    ("confirmed", "Confirmed"),
    ("false_positive", "False positive"),
    ("exempted", "Exempted"),
]


def case_key(programme, enrolment_key_a, enrolment_key_b):
    """Stable across recomputes: the programme and the two enrolments."""
    text = f"{programme}|{enrolment_key_a}|{enrolment_key_b}"
    return "dup-" + hashlib.sha256(text.encode()).hexdigest()[:24]


class IbrDuplicateCase(models.Model):
    _name = "ibr.duplicate.case"
    _description = "IBR duplicate case"
    _order = "detected_at desc, id"
    _rec_name = "case_key"

    case_key = fields.Char(required=True, readonly=True, index=True)
    programme = fields.Char(required=True, readonly=True)
    identity = fields.Char("Shared identity", readonly=True)
    subject_key_a = fields.Char(readonly=True)
    subject_key_b = fields.Char(readonly=True)
    subject_a_id = fields.Many2one("ibr.subject", "Person", compute="_compute_subjects")
    subject_b_id = fields.Many2one("ibr.subject", "Other subject", compute="_compute_subjects")
    record_a = fields.Char("Record", readonly=True)
    record_b = fields.Char("Other record", readonly=True)
    area_level_1 = fields.Char("Region", readonly=True)
    area_level_2 = fields.Char("District", readonly=True)
    area_code = fields.Char("Area", readonly=True)
    status = fields.Selection(DECISIONS, default="open", required=True, readonly=True)
    detected_at = fields.Datetime(readonly=True)
    decided_at = fields.Datetime(readonly=True)
    decided_by = fields.Char(readonly=True)

    _case_key_unique = models.Constraint("UNIQUE(case_key)", "A duplicate case is recorded once.")

    @api.depends("subject_key_a", "subject_key_b")
    def _compute_subjects(self):
        keys = {key for case in self for key in (case.subject_key_a, case.subject_key_b) if key}
        ids = {}
        if keys:
            self.env.cr.execute(
                "SELECT k, ibr.key_id(k) FROM unnest(%s::text[]) AS k", [sorted(keys)]
            )
            ids = dict(self.env.cr.fetchall())
        subjects = self.env["ibr.subject"]
        for case in self:
            case.subject_a_id = subjects.browse(ids.get(case.subject_key_a) or [])
            case.subject_b_id = subjects.browse(ids.get(case.subject_key_b) or [])

    def action_confirm(self):
        return self._decide("confirmed")

    def action_false_positive(self):
        return self._decide("false_positive")

    def action_exempt(self):
        return self._decide("exempted")

    def _decide(self, decision):
        if not self.env.user.has_group("ibr.group_ibr_officer"):
            raise AccessError(self.env._("Only registry officers decide duplicate cases."))
        self.check_access("read")  # record rules: only the cases of the officer's areas
        now = utc_now()
        actor = self.env.user.login
        for case in self:
            if case.status != "open":
                raise UserError(self.env._("Case %(case)s is already decided.", case=case.case_key))
            with OdooStore(self.env).transaction() as tx:
                append_audit(
                    tx,
                    at=now,
                    actor=actor,
                    action=f"duplicate_case.{decision}",
                    subject=case.case_key,
                    detail={"previous_status": case.status, "programme": case.programme},
                )
            case.sudo().write(
                {
                    "status": decision,
                    "decided_at": now.replace(tzinfo=None),
                    "decided_by": actor,
                }
            )
        return True

    @api.model
    def action_recompute(self):
        """Detect the duplicates of the whole registry with the core's analytics."""
        if not self.env.user.has_group("ibr.group_ibr_manager"):
            raise AccessError(self.env._("Only registry managers recompute duplicates."))
        new = self.sudo()._record(self._detect())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Duplicates"),
                "message": self.env._("%(n)s new duplicate case(s).", n=len(new)),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _detect(self):
        from ibr_service.analytics.duplicates import exact_duplicates  # pandas: when used
        from ibr_service.analytics.sql_source import frames_from_engine

        store = OdooStore(self.env)
        # The analytics read through the store's engine: bound here to Odoo's cursor.
        with store.connection():
            return exact_duplicates(frames_from_engine(store.engine))

    def _record(self, pairs):
        rows = pairs.to_dict("records")
        keys = {
            case_key(r["programme"], r["enrolment_key_a"], r["enrolment_key_b"]): r for r in rows
        }
        known = set(self.search([("case_key", "in", list(keys))]).mapped("case_key"))
        subject_keys = sorted({r["subject_key_a"] for r in rows})
        areas = {}
        if subject_keys:
            subjects = self.env["ibr.subject"].search([("subject_key", "in", subject_keys)])
            areas = {s.subject_key: s for s in subjects}
        now = fields.Datetime.now()
        values = []
        for key, r in keys.items():
            if key in known:
                continue
            subject = areas.get(r["subject_key_a"])
            values.append(
                {
                    "case_key": key,
                    "programme": r["programme"],
                    "identity": r["identity"],
                    "subject_key_a": r["subject_key_a"],
                    "subject_key_b": r["subject_key_b"],
                    "record_a": r["record_a"],
                    "record_b": r["record_b"],
                    "area_level_1": subject.area_level_1 if subject else False,
                    "area_level_2": subject.area_level_2 if subject else False,
                    "area_code": subject.area_code if subject else False,
                    "detected_at": now,
                }
            )
        return self.create(values)
