"""The officers' journeys in a real browser (Debian chromium), with screenshots for the docs."""

import base64
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from odoo.addons.ibr.store import OdooStore

from .common import person_in, publish

# docs/screenshots of the project checkout, when the add-on runs from one.
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def wait_for(selector):
    """Browser code that succeeds once `selector` is on the page."""
    return f"""
        const ready = () => document.querySelector('{selector}')
            ? console.log('test successful') : setTimeout(ready, 100);
        ready();
    """


@tagged("post_install", "-at_install")
class TestOfficerJourneys(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        zawadi = person_in(
            "5101",
            "R1",
            "D11",
            given_name="Zawadi",
            surname="Mwangi",
            benefits=(("2024-05-02", "50.00"), ("2024-06-02", "25.50")),
        )
        zawadi["programme_identifier"].append(
            {
                "programme": {"programme_identifier": "P2", "programme_name": "Old-age grant"},
                "enrolment_date": "2024-02-01",
                "enrolment_status": "4",
            }
        )
        others = [
            person_in(f"51{n:02d}", f"R{n % 3 + 1}", f"D{n}", given_name=name, surname="Otieno")
            for n, name in enumerate(("Baraka", "Imani", "Jabari", "Neema", "Pendo"), start=2)
        ]
        publish(cls.env, zawadi, *others)
        amani = person_in("5201", "R2", "D21", given_name="Amani", surname="Kariuki")
        enrolment = {k: v for k, v in amani["programme_identifier"][0].items() if k != "benefits"}
        amani["programme_identifier"] = [
            {**enrolment, "programme": {"programme_identifier": code, "programme_name": name}}
            for code, name in (("OAP", "Old-age pension"), ("DSG", "Disability grant"))
        ]
        publish(cls.env, amani)
        cls.env["ibr.overlap.case"].action_recompute()
        twice = [
            person_in("5301", "R3", "D31", given_name="Tumaini", surname="Achieng", record_id=r)
            for r in ("B-5301-1", "B-5301-2")
        ]
        publish(cls.env, *twice)
        cls.env["ibr.duplicate.case"].action_recompute()

    def test_find_a_person_and_open_who_receives_what(self):
        with self._screenshot_at_the_end("who-receives-what"):
            self.start_tour(
                "/odoo/action-ibr.ibr_subject_action",
                "ibr_find_person_who_receives_what",
                login="admin",
            )

    def test_the_officer_reads_are_logged(self):
        self.start_tour(
            "/odoo/action-ibr.ibr_subject_action",
            "ibr_find_person_who_receives_what",
            login="admin",
        )
        zawadi = self.env["ibr.subject"].search([("identifier_text", "=", "NID 5101")])
        with OdooStore(self.env).transaction() as tx:
            reads = [
                e
                for e in tx.iter_audit()
                if e.action == "personal_data.read" and e.actor == "odoo:admin"
            ]
        opened = [e.detail for e in reads if e.detail["records"] == [zawadi.subject_key]]
        # The form read her names and birth date, then her identifiers.
        self.assertIn(
            ("ibr.subject", True), [(d["model"], "birth_date" in d["fields"]) for d in opened]
        )
        self.assertIn(
            ("ibr.identifier", ["identifier_value"]), [(d["model"], d["fields"]) for d in opened]
        )

    def test_resolve_a_duplicate_case(self):
        self.start_tour(
            "/odoo/action-ibr.ibr_duplicate_case_action",
            "ibr_resolve_duplicate_case",
            login="admin",
        )
        case = self.env["ibr.duplicate.case"].search([("record_a", "like", "B-5301")])
        self.assertEqual((case.status, case.decided_by), ("confirmed", "admin"))

    def test_resolve_an_overlap_case(self):
        with self._screenshot_at_the_end("overlap-case-decided"):
            self.start_tour(
                "/odoo/action-ibr.ibr_overlap_case_action",
                "ibr_resolve_overlap_case",
                login="admin",
            )
        case = self.env["ibr.overlap.case"].search(
            ["|", ("programme_a", "=", "DSG"), ("programme_b", "=", "DSG")]
        )
        self.assertEqual((case.status, case.decided_by), ("false_positive", "admin"))

    def test_read_the_coverage_dashboard(self):
        self.start_tour("/odoo/action-ibr.ibr_coverage_action", "ibr_read_coverage", login="admin")

    def test_beneficiary_list_and_coverage_screens(self):
        screens = {
            "beneficiaries": ("/odoo/action-ibr.ibr_subject_action", ".o_data_row"),
            "coverage": ("/odoo/action-ibr.ibr_coverage_action", ".o_pivot td.o_pivot_cell_value"),
        }
        for name, (url, selector) in screens.items():
            with self._screenshot_at_the_end(name):
                self.browser_js(url, wait_for(selector), login="admin")

    def _screenshot_at_the_end(self, name):
        """Capture the page once the browser code succeeded, into docs/screenshots."""
        original = ChromeBrowser._wait_code_ok

        def wait_then_capture(browser, *args, **kwargs):
            original(browser, *args, **kwargs)
            if SCREENSHOTS.parent.is_dir():
                shot = browser._websocket_send("Page.captureScreenshot", with_future=True)
                SCREENSHOTS.mkdir(exist_ok=True)
                png = base64.b64decode(shot.result(timeout=30)["data"])
                (SCREENSHOTS / f"odoo-{name}.png").write_bytes(png)

        return patch.object(ChromeBrowser, "_wait_code_ok", wait_then_capture)
