"""The demo data loads: a synthetic population from ibr_mock_data, through the core."""

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    def test_the_mock_population_loads_and_shows_in_the_views(self):
        before = self.env["ibr.subject"].search_count([])
        statuses = self.env["ibr.demo"]._load_mock_population(people=60, seed=7)
        self.assertGreater(statuses.get("succ", 0), 0, statuses)
        self.assertGreater(self.env["ibr.subject"].search_count([]), before)
        regions = self.env["ibr.subject"]._read_group(
            [("area_level_1", "!=", False)], ["area_level_1"], ["__count"]
        )
        self.assertGreater(len(regions), 1, "the mock population spans several regions")
        self.assertTrue(self.env["ibr.enrolment"].search_count([("source", "=", "SP-MIS")]))
