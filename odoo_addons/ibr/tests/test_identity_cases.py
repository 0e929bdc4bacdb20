"""Identity cases opened by the core, decided by officers through the core's stewardship."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import person_in, publish


@tagged("post_install", "-at_install")
class TestIdentityCases(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        publish(cls.env, person_in("3101", "R1", "D1"))
        # Same national ID, another sex and a birth year far apart: the core opens a case.
        publish(cls.env, person_in("3101", "R1", "D1", sex="male", birth_date="1941-01-01"))
        cls.case = cls.env["ibr.identity.case"].search([("identifier_value", "=", "3101")])
        cls.officer = new_test_user(cls.env, login="ic_officer", groups="ibr.group_ibr_officer")
        cls.officer.write({"ibr_area_codes": "R1", "ibr_programme_codes": "DCI001"})
        cls.viewer = new_test_user(cls.env, login="ic_viewer", groups="ibr.group_ibr_viewer")
        cls.viewer.write({"ibr_area_codes": "R1", "ibr_programme_codes": "DCI001"})

    def test_the_core_opened_a_demographic_clash_case(self):
        self.assertEqual(len(self.case), 1)
        self.assertEqual((self.case.case_kind, self.case.status), ("demographic_clash", "open"))
        self.assertTrue(self.case.subject_a_id and self.case.subject_b_id)

    def test_an_officer_dismisses_and_the_decision_is_recorded_and_audited(self):
        self.case.with_user(self.officer).action_dismiss()
        self.env.invalidate_all()
        self.assertEqual(self.case.status, "dismissed")
        self.assertEqual(self.case.decided_by, "ic_officer")
        audit = self.env["ibr.audit"].search([("subject", "=", self.case.case_id)])
        self.assertEqual(audit.mapped("action"), ["identity.dismiss"])

    def test_an_officer_merges_into_one_subject(self):
        keep = self.case.subject_a_id
        self.case.with_user(self.officer).action_merge_into_subject()
        self.env.invalidate_all()
        self.assertEqual(self.case.status, "merged")
        people = self.env["ibr.subject"].search([("identifier_text", "ilike", "NID 3101")])
        self.assertEqual(people, keep)

    def test_a_viewer_cannot_decide(self):
        with self.assertRaises(AccessError):
            self.case.with_user(self.viewer).action_dismiss()
        self.env.invalidate_all()
        self.assertEqual(self.case.status, "open")
