"""Overlap cases: detected by the core's analytics over Odoo's database, decided by officers."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import in_programmes, publish


@tagged("post_install", "-at_install")
class TestOverlapCases(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The shipped rules: a social pension (OAP) excludes a disability grant (DSG).
        items = publish(
            cls.env, in_programmes("2101", "R1", "OAP", "DSG"), in_programmes("2102", "R1", "OAP")
        )
        assert [i["status"] for i in items] == ["succ", "succ"], items
        cls.manager = new_test_user(cls.env, login="ov_manager", groups="ibr.group_ibr_manager")
        cls.officer = new_test_user(cls.env, login="ov_officer", groups="ibr.group_ibr_officer")
        cls.officer.write({"ibr_area_codes": "R1", "ibr_programme_codes": "OAP"})
        cls.env["ibr.overlap.case"].with_user(cls.manager).action_recompute()
        cls.case = cls._case_of("NID 2101")

    @classmethod
    def _case_of(cls, identifiers):
        person = cls.env["ibr.subject"].search([("identifier_text", "=", identifiers)])
        return cls.env["ibr.overlap.case"].search([("subject_id", "=", person.id)])

    def test_the_recompute_finds_the_excluded_pair_only(self):
        self.assertEqual(len(self.case), 1)
        self.assertEqual({self.case.programme_a, self.case.programme_b}, {"OAP", "DSG"})
        self.assertEqual(self.case.status, "open")
        other = self.env["ibr.overlap.case"].search(
            [("subject_id.identifier_text", "=", "NID 2102")]
        )
        self.assertFalse(other)

    def test_an_officer_marks_a_false_positive_and_it_is_audited(self):
        self.case.with_user(self.officer).action_false_positive()
        self.env.invalidate_all()
        self.assertEqual((self.case.status, self.case.decided_by), ("false_positive", "ov_officer"))
        audit = self.env["ibr.audit"].search([("subject", "=", self.case.case_id)])
        self.assertEqual(audit.mapped("action"), ["overlap_case.false_positive"])

    def test_only_managers_recompute(self):
        with self.assertRaises(AccessError):
            self.env["ibr.overlap.case"].with_user(self.officer).action_recompute()
