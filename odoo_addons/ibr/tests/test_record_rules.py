"""Officers read only the areas and programmes assigned to them; managers read everything."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import person_in, publish


@tagged("post_install", "-at_install")
class TestRecordRules(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        in_programme_9 = person_in("8203", "RA", "DA1")
        in_programme_9["programme_identifier"][0]["programme"]["programme_identifier"] = "P9"
        publish(cls.env, person_in("8201", "RA", "DA1"), person_in("8202", "RB", "DB1"))
        publish(cls.env, in_programme_9)

        def user(login, group, areas=None, programmes=None):
            officer = new_test_user(cls.env, login=login, groups=f"ibr.{group}")
            officer.write({"ibr_area_codes": areas, "ibr_programme_codes": programmes})
            return officer

        cls.officer_a = user("officer_a", "group_ibr_officer", "RA", "DCI001")
        cls.officer_b_district = user("officer_b", "group_ibr_officer", "DB1", "DCI001, P9")
        cls.viewer_nothing = user("viewer_none", "group_ibr_viewer")
        cls.manager = user("manager", "group_ibr_manager")

    def _nids(self, user, model="ibr.subject"):
        """The national ids of this test's people that `user` can see in `model`."""
        records = self.env[model].with_user(user).search([])
        subjects = records if model == "ibr.subject" else records.subject_id
        texts = subjects.sudo().mapped("identifier_text")
        return sorted(t for t in texts if t and t.startswith("NID 82"))

    def test_an_officer_of_area_a_cannot_read_area_b(self):
        self.assertEqual(self._nids(self.officer_a), ["NID 8201", "NID 8203"])
        other = self.env["ibr.subject"].search([("identifier_text", "=", "NID 8202")])
        with self.assertRaises(AccessError):
            other.with_user(self.officer_a).read(["name"])

    def test_an_assignment_at_district_level_works(self):
        self.assertEqual(self._nids(self.officer_b_district), ["NID 8202"])

    def test_enrolments_follow_area_and_programme(self):
        self.assertEqual(self._nids(self.officer_a, "ibr.enrolment"), ["NID 8201"])
        self.assertEqual(self._nids(self.officer_a, "ibr.benefit"), ["NID 8201"])

    def test_without_assignment_a_viewer_reads_nothing(self):
        self.assertEqual(self._nids(self.viewer_nothing), [])

    def test_a_manager_reads_every_area_and_programme(self):
        self.assertEqual(self._nids(self.manager), ["NID 8201", "NID 8202", "NID 8203"])
        self.assertEqual(
            self._nids(self.manager, "ibr.enrolment"), ["NID 8201", "NID 8202", "NID 8203"]
        )

    def test_only_administrators_read_api_clients_and_audit(self):
        with self.assertRaises(AccessError):
            self.env["ibr.client"].with_user(self.manager).search([])
        with self.assertRaises(AccessError):
            self.env["ibr.audit"].with_user(self.officer_a).search([])
