"""A deployment's core settings (identifier types, consent) reach the core Odoo hosts: the API's
and the outbox cron's, as they reach `ibr serve`'s."""

import os
import tempfile
from pathlib import Path
from unittest import mock

from odoo.tests import TransactionCase, tagged

from odoo.addons.ibr.api import build_ibr_app
from odoo.addons.ibr.store import OdooStore

from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request
from ibr_service.api import dependencies as deps
from ibr_service.core import Caller
from ibr_service.core.records import IdentifierRecord
from ibr_service.core.samples import enrollment_message, search_message
from ibr_service.security.clients import register_client
from ibr_service.settings import Settings

from .common import person_in, publish

SENDER = "SP-Settings-Test"
# National IDs with a Luhn check digit, also spelled CITIZEN_NO: 6304 passes, 6301 fails.
TYPES = """\
- code: NID
  aliases: [CITIZEN_NO]
  check_digit: luhn
"""


@tagged("post_install", "-at_install")
class TestDeploymentSettings(TransactionCase):
    def setUp(self):
        super().setUp()
        folder = Path(tempfile.mkdtemp(prefix="ibr-odoo-settings-"))
        self.types_file = folder / "identifier-types.yaml"
        self.types_file.write_text(TYPES)

    def _linked(self, national_id):
        with OdooStore(self.env).transaction() as tx:
            return tx.subjects_by_identifiers([IdentifierRecord("NID", national_id)])

    def test_the_api_core_checks_identifiers_as_the_deployment_says(self):
        settings = Settings(
            receiver_id="IBR", run_outbox=False, identifier_types_file=str(self.types_file)
        )
        app = build_ibr_app(settings)
        core = app.dependency_overrides[deps.get_core](OdooStore(self.env))
        answer = core.enrollment_updates(
            enrollment_message([person_in("6301", "R1", "D1"), person_in("6304", "R1", "D1")]),
            caller=Caller(sender_id=SENDER),
        )
        statuses = [item["status"] for item in answer["enrolled_response"]]
        self.assertEqual(statuses, ["succ", "succ"], answer)
        self.assertEqual(self._linked("6301"), {}, "a failed check digit never links")
        self.assertIn(IdentifierRecord("NID", "6304"), self._linked("6304"))

    def test_the_api_core_requires_consent_when_the_deployment_does(self):
        app = build_ibr_app(Settings(receiver_id="IBR", run_outbox=False, require_consent=True))
        core = app.dependency_overrides[deps.get_core](OdooStore(self.env))
        answer = core.sync_search(
            search_message("idtype-value", {"type": "NID", "value": "6304"}),
            caller=Caller(sender_id=SENDER),
        )
        (item,) = answer["search_response"]
        self.assertEqual(item["status"], "rjct", item)
        self.assertIn("consent", item["status_reason_message"])

    def test_the_outbox_cron_answers_with_the_deployments_identifier_types(self):
        publish(self.env, person_in("6304", "R1", "D1"))
        store = OdooStore(self.env)
        register_client(
            store,
            sender_id=SENDER,
            now=utc_now(),
            allowed_callback_hosts=["127.0.0.1:9"],
            allow_private_callbacks=True,
        )
        envelope = build_request(
            action="search",
            message=search_message("idtype-value", {"type": "CITIZEN_NO", "value": "6304"}),
            sender_id=SENDER,
            receiver_id="IBR",
            sender_uri="http://127.0.0.1:9/callback/on-search",
        )
        app = build_ibr_app(Settings(receiver_id="IBR", run_outbox=False))
        core = app.dependency_overrides[deps.get_core](store)
        correlation_id = core.accept_async("search", envelope, caller=Caller(SENDER))
        environ = {"IBR_IDENTIFIER_TYPES_FILE": str(self.types_file)}
        with mock.patch.dict(os.environ, environ):
            self.env["ibr.outbox"]._cron_dispatch(max_passes=1)
        with OdooStore(self.env).transaction() as tx:
            txn = tx.get_transaction(correlation_id)
        (item,) = txn.response["search_response"]
        self.assertEqual(item["status"], "succ", item)
        self.assertEqual(item["pagination"]["total_count"], 1, "CITIZEN_NO is the NID here")
