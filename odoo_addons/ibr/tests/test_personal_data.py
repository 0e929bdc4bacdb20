"""Officers' reads of personal data are logged in the audit chain: who, when, which, what."""

from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_service.core.audit import audit_verify

from .common import person_in, publish


def personal_reads(env):
    """The audit chain's personal-data entries, oldest first."""
    with OdooStore(env).transaction() as tx:
        return [e for e in tx.iter_audit() if e.action.startswith("personal_data.")]


@tagged("post_install", "-at_install")
class TestPersonalDataReads(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        publish(cls.env, person_in("8301", "RA", "DA1"), person_in("8302", "RA", "DA2"))
        cls.officer = new_test_user(
            cls.env, login="reader_a", groups="ibr.group_ibr_officer,base.group_allow_export"
        )
        cls.officer.ibr_area_codes = "RA"
        cls.people = cls.env["ibr.subject"].search([("identifier_text", "like", "NID 830")])

    def test_a_form_read_records_who_which_subject_and_which_fields(self):
        person = self.people[0].with_user(self.officer)
        before = len(personal_reads(self.env))
        person.web_read({"name": {}, "birth_date": {}, "age_band": {}})
        (entry,) = personal_reads(self.env)[before:]
        self.assertEqual(
            (entry.actor, entry.action, entry.subject),
            ("odoo:reader_a", "personal_data.read", "ibr.subject"),
        )
        self.assertEqual(entry.detail["user_id"], self.officer.id)
        self.assertEqual(entry.detail["records"], [self.people[0].subject_key])
        self.assertEqual(entry.detail["fields"], ["birth_date", "name"])
        self.assertTrue(audit_verify(OdooStore(self.env)).ok)

    def test_a_list_read_records_every_subject_shown(self):
        before = len(personal_reads(self.env))
        self.env["ibr.subject"].with_user(self.officer).web_search_read(
            [("identifier_text", "like", "NID 830")], {"name": {}, "identifier_text": {}}
        )
        (entry,) = personal_reads(self.env)[before:]
        self.assertEqual(entry.detail["records"], sorted(self.people.mapped("subject_key")))
        self.assertEqual(entry.detail["fields"], ["identifier_text", "name"])

    def test_identifiers_and_exports_are_logged(self):
        before = len(personal_reads(self.env))
        identifiers = self.people.identifier_ids.with_user(self.officer)
        identifiers.read(["identifier_value"])
        self.people.with_user(self.officer).export_data(["name", "identifier_ids/identifier_value"])
        read, export = personal_reads(self.env)[before:]
        self.assertEqual(
            (read.subject, read.detail["fields"]), ("ibr.identifier", ["identifier_value"])
        )
        self.assertEqual(export.action, "personal_data.export")
        self.assertEqual(export.detail["fields"], ["identifier_ids", "name"])

    def test_the_web_client_reads_these_models_on_a_read_write_cursor(self):
        from odoo.addons.web.controllers.dataset import DataSet

        for model in ("ibr.subject", "ibr.identifier"):
            for method in ("read", "search_read", "web_read", "web_search_read"):
                cls = type(self.env[model])
                marks = [
                    getattr(c, method)._readonly
                    for c in cls.mro()
                    if hasattr(getattr(c, method, None), "_readonly")
                ]
                self.assertIs(marks[0], False, f"{model}.{method}")
        self.assertTrue(DataSet._call_kw_readonly)  # the rule the marks feed

    def test_reads_without_personal_fields_and_superuser_reads_are_not_logged(self):
        before = len(personal_reads(self.env))
        self.people.with_user(self.officer).read(["age_band", "area_level_1"])
        self.people.sudo().read(["name", "birth_date"])
        self.assertEqual(personal_reads(self.env)[before:], [])
