"""The DCI API inside Odoo, over Odoo's real HTTP server: the reference SP-MIS talks to it."""

import json
import tempfile
from pathlib import Path

from odoo.tests import HttpCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_client import IbrClient
from ibr_client.config import ClientConfig
from ibr_protocol import sign_envelope
from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request
from ibr_protocol.signing import generate_signing_key, public_jwk
from ibr_service.security.clients import register_client

from .common import in_programmes, person_in

SENDER = "SP-Odoo-Test"


@tagged("post_install", "-at_install")
class TestDciApiOverHttp(HttpCase):
    def setUp(self):
        super().setUp()
        self.private_jwk = generate_signing_key("sp-odoo-test-1")
        _client, self.secret = register_client(
            OdooStore(self.env),
            sender_id=SENDER,
            now=utc_now(),
            public_keys=[public_jwk(self.private_jwk)],
        )
        folder = Path(tempfile.mkdtemp(prefix="ibr-odoo-test-"))
        key_file = folder / "signing.jwk.json"
        key_file.write_text(json.dumps(self.private_jwk))
        self.config = ClientConfig(
            ibr_url=f"{self.base_url()}/ibr",
            client_id=SENDER,
            client_secret=self.secret,
            sender_id=SENDER,
            signing_key_file=key_file,
            state_dir=folder / "state",
            retries=0,
        )

    def test_publish_then_enrolled_check_from_the_reference_sp_mis(self):
        # The SDK's own HTTP client carries no test cookie: let every request in.
        with self.allow_requests(all_requests=True), IbrClient(self.config) as sp_mis:
            (answer,) = sp_mis.publish([person_in("6101", "R1", "D1")])
            answer = answer.model_dump(mode="json")
            statuses = [item["status"] for item in answer["enrolled_response"]]
            self.assertEqual(statuses, ["succ"], answer)
            enrolled = sp_mis.enrolled("NID", "6101")
            nobody = sp_mis.enrolled("NID", "6199")
        self.assertEqual(_enrolled_status(enrolled), "yes")
        self.assertEqual(_enrolled_status(nobody), "no")
        # What the API wrote is in Odoo's transaction: the officers' views see it.
        seen = self.env["ibr.subject"].search([("identifier_text", "=", "NID 6101")])
        self.assertEqual(seen.area_level_1, "R1")

    def test_an_overlap_made_through_the_api_is_noted_and_opened_as_a_case(self):
        # The shipped rules: a social pension (OAP) excludes a disability grant (DSG).
        with self.allow_requests(all_requests=True), IbrClient(self.config) as sp_mis:
            (first,) = sp_mis.publish([in_programmes("6201", "R1", "OAP")])
            (second,) = sp_mis.publish([in_programmes("6201", "R1", "DSG")])
        (before,) = first.model_dump(mode="json")["enrolled_response"]
        (item,) = second.model_dump(mode="json")["enrolled_response"]
        self.assertEqual(before["status"], "succ", before)
        self.assertNotEqual(before.get("status_reason_code"), "succ.overlap.detected")
        self.assertEqual(item["status"], "succ", item)  # noted, never refused
        self.assertEqual(item["status_reason_code"], "succ.overlap.detected", item)
        person = self.env["ibr.subject"].search([("identifier_text", "=", "NID 6201")])
        case = self.env["ibr.overlap.case"].search([("subject_id", "=", person.id)])
        self.assertEqual(len(case), 1)
        self.assertEqual({case.programme_a, case.programme_b}, {"OAP", "DSG"})
        self.assertIn(case.case_id, item["status_reason_message"])
        self.assertEqual(case.status, "open")

    def test_the_host_fills_every_dependency_the_routers_declare(self):
        """If this fails, the service added a host dependency the Odoo host does not provide."""
        from ibr_service.api import dependencies as deps

        from ..api import build_ibr_app
        from ..models.fastapi_endpoint import ibr_settings

        app = build_ibr_app(ibr_settings(self.env))
        declared = {getattr(deps, name) for name in deps.__all__ if name.startswith("get_")}
        self.assertEqual(declared - set(app.dependency_overrides), set())

    def test_operations_answer_under_ibr_and_ibr_registry(self):
        for path in ("/ibr/registry/sync/search", "/ibr/sync/search"):
            reply = self.url_open(path, json=self._signed_search())
            self.assertEqual(reply.status_code, 401, f"{path}: {reply.text}")

    def test_jwks_is_published(self):
        reply = self.url_open("/ibr/.well-known/jwks.json")
        self.assertEqual(reply.status_code, 200)
        self.assertTrue(reply.json()["keys"])

    def test_without_a_token_the_answer_is_a_dci_401(self):
        reply = self.url_open("/ibr/registry/sync/search", json=self._signed_search())
        self.assertEqual(reply.status_code, 401, reply.text)
        self.assertEqual(reply.json()["message"]["error"]["code"], "err.request.unauthorized")

    def test_a_forged_message_is_refused_with_err_signature_invalid(self):
        forged = self._signed_search()
        forged["message"]["extra"] = "added after signing"
        reply = self.url_open("/ibr/registry/sync/search", json=forged, headers=self._bearer())
        self.assertEqual(reply.status_code, 401, reply.text)
        self.assertEqual(reply.json()["message"]["error"]["code"], "err.signature.invalid")

    def test_a_valid_signed_search_gets_a_spec_answer(self):
        reply = self.url_open(
            "/ibr/registry/sync/search", json=self._signed_search(), headers=self._bearer()
        )
        self.assertEqual(reply.status_code, 200, reply.text)
        body = reply.json()
        self.assertEqual(body["header"]["action"], "on-search")
        self.assertIn("signature", body)

    def _bearer(self):
        reply = self.url_open(
            "/ibr/oauth2/client/token",
            data={
                "grant_type": "client_credentials",
                "client_id": SENDER,
                "client_secret": self.secret,
            },
        )
        self.assertEqual(reply.status_code, 200, reply.text)
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    def _signed_search(self):
        message = {
            "transaction_id": "T-odoo-1",
            "search_request": [
                {
                    "reference_id": "R-1",
                    "timestamp": "2024-05-02T10:00:00Z",
                    "search_criteria": {
                        "query_type": "idtype-value",
                        "query": {"type": "NID", "value": "6101"},
                    },
                }
            ],
        }
        envelope = build_request(
            action="search", message=message, sender_id=SENDER, receiver_id="IBR", now=utc_now()
        )
        return sign_envelope(envelope, self.private_jwk)


def _enrolled_status(answer):
    return answer.model_dump(mode="json")["enrolled_response"][0]["enrolled_status"]
