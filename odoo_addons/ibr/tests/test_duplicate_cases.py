"""Duplicate cases: detected by the core's analytics, decided by an officer, audited."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.ibr.store import OdooStore

from .common import person_in, publish


@tagged("post_install", "-at_install")
class TestDuplicateCases(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One person, two records of one programme (two beneficiary ids): an exact duplicate.
        publish(
            cls.env,
            person_in("8501", "RD", "DD1", record_id="B-8501-1"),
            person_in("8501", "RD", "DD1", record_id="B-8501-2"),
            person_in("8502", "RD", "DD1", record_id="B-8502-1"),
        )
        cls.manager = new_test_user(cls.env, login="dup_manager", groups="ibr.group_ibr_manager")
        cls.officer = new_test_user(cls.env, login="dup_officer", groups="ibr.group_ibr_officer")
        cls.officer.write({"ibr_area_codes": "RD", "ibr_programme_codes": "DCI001"})
        cls.viewer = new_test_user(cls.env, login="dup_viewer", groups="ibr.group_ibr_viewer")
        cls.viewer.write({"ibr_area_codes": "RD", "ibr_programme_codes": "DCI001"})

    def _cases(self):
        return self.env["ibr.duplicate.case"].search([("record_a", "like", "B-85")])

    def test_a_recompute_opens_one_case_per_pair_and_keeps_decisions(self):
        self.env["ibr.duplicate.case"].with_user(self.manager).action_recompute()
        case = self._cases()
        self.assertEqual(len(case), 1)
        self.assertEqual((case.programme, case.status), ("DCI001", "open"))
        self.assertEqual({case.record_a, case.record_b}, {"B-8501-1", "B-8501-2"})
        self.assertEqual(case.subject_a_id.identifier_text, "NID 8501")
        self.assertEqual(case.area_level_1, "RD")
        case.with_user(self.officer).action_false_positive()
        self.env["ibr.duplicate.case"].with_user(self.manager).action_recompute()
        self.assertEqual(self._cases().mapped("status"), ["false_positive"])

    def test_an_officer_decides_and_the_decision_is_audited(self):
        self.env["ibr.duplicate.case"].with_user(self.manager).action_recompute()
        case = self._cases().with_user(self.officer)
        case.action_confirm()
        self.assertEqual((case.status, case.decided_by), ("confirmed", "dup_officer"))
        with OdooStore(self.env).transaction() as tx:
            entries = [e for e in tx.iter_audit() if e.subject == case.case_key]
        self.assertEqual([e.action for e in entries], ["duplicate_case.confirmed"])

    def test_only_managers_recompute_and_viewers_cannot_decide(self):
        with self.assertRaises(AccessError):
            self.env["ibr.duplicate.case"].with_user(self.officer).action_recompute()
        self.env["ibr.duplicate.case"].with_user(self.manager).action_recompute()
        with self.assertRaises(AccessError):
            self._cases().with_user(self.viewer).action_exempt()
