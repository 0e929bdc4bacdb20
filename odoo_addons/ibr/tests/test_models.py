"""The registry as officers see it: SQL views over what the core wrote."""

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import person_in, publish


@tagged("post_install", "-at_install")
class TestRegistryViews(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        amina = person_in(
            "9101",
            "R1",
            "D11",
            benefits=(("2024-05-02", "50.00"), ("2024-06-02", "25.50")),
        )
        amina["programme_identifier"].append(
            {
                "programme": {"programme_identifier": "P2", "programme_name": "Old-age grant"},
                "enrolment_date": "2024-02-01",
                "enrolment_status": "4",
            }
        )
        items = publish(cls.env, amina, person_in("9102", "R2", "D21", birth_date="1950-01-01"))
        assert [i["status"] for i in items] == ["succ", "succ"], items
        publish(
            cls.env, person_in("9101", "R1", "D11", status="2", status_change_date="2024-07-01")
        )
        cls.amina = cls.env["ibr.subject"].search([("identifier_text", "ilike", "NID 9101")])

    def test_a_person_is_found_by_identifier_with_facets(self):
        self.assertEqual(len(self.amina), 1)
        self.assertEqual(self.amina.name, "Amina Okafor")
        self.assertEqual(self.amina.kind, "person")
        self.assertEqual((self.amina.area_level_1, self.amina.area_level_2), ("R1", "D11"))
        self.assertEqual(self.amina.age_band, "working_age")
        older = self.env["ibr.subject"].search([("identifier_text", "ilike", "NID 9102")])
        self.assertEqual(older.age_band, "older")

    def test_who_receives_what(self):
        by_programme = {e.programme_identifier: e for e in self.amina.enrolment_ids}
        self.assertEqual(set(by_programme), {"DCI001", "P2"})
        self.assertEqual(by_programme["DCI001"].enrolment_status, "2")
        self.assertEqual(by_programme["P2"].enrolment_status, "4")
        self.assertEqual(by_programme["P2"].programme_id.name, "Old-age grant")
        self.assertEqual(by_programme["DCI001"].source, "SP-Test")
        self.assertEqual(self.amina.programme_count, 2)
        self.assertEqual(self.amina.active_programme_count, 0)
        self.assertAlmostEqual(self.amina.benefit_total, 75.5)

    def test_status_history_is_kept_per_enrolment(self):
        enrolment = self.amina.enrolment_ids.filtered(lambda e: e.programme_identifier == "DCI001")
        statuses = enrolment.status_history_ids.sorted("recorded_at").mapped("enrolment_status")
        self.assertEqual(statuses, ["1", "2"])

    def test_group_by_programme_and_area(self):
        groups = self.env["ibr.enrolment"]._read_group(
            [("programme_identifier", "in", ["DCI001", "P2"]), ("source", "=", "SP-Test")],
            ["area_level_1"],
            ["__count"],
        )
        self.assertEqual(dict(groups), {"R1": 2, "R2": 1})
        programme = self.env["ibr.programme"].search([("programme_identifier", "=", "P2")])
        self.assertEqual((programme.enrolment_count, programme.active_count), (1, 0))

    def test_the_registry_is_read_only_for_odoo(self):
        with self.assertRaises(UserError):
            self.amina.write({"given_name": "Changed"})
        # Below the ORM too: the views are not auto-updatable.
        with (
            self.assertRaises(psycopg2.Error),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE ibr_subject SET given_name = 'Changed' WHERE id = %s", [self.amina.id]
            )
