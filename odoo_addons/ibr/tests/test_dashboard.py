"""The managers' dashboard: the core's coverage report and the case counts, over HTTP."""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import person_in, publish


@tagged("post_install", "-at_install")
class TestDashboard(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        publish(cls.env, *(person_in(f"86{n:02d}", f"R{n % 3}", f"D{n}") for n in range(12)))
        new_test_user(cls.env, login="dash_manager", groups="ibr.group_ibr_manager")
        new_test_user(cls.env, login="dash_officer", groups="ibr.group_ibr_officer")

    def test_a_manager_reads_coverage_charts_and_case_counts(self):
        self.authenticate("dash_manager", "dash_manager")
        reply = self.url_open("/ibr_dashboard")
        self.assertEqual(reply.status_code, 200, reply.text[:500])
        self.assertIn('id="ibr-case-counts"', reply.text)
        self.assertIn("render-check", reply.text)  # the core's report, charts included
        self.assertIn("plotly-graph-div", reply.text)

    def test_an_officer_does_not_get_the_dashboard(self):
        self.authenticate("dash_officer", "dash_officer")
        self.assertEqual(self.url_open("/ibr_dashboard").status_code, 404)
