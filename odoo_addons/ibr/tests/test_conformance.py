"""The conformance suite's IBR profile against the Odoo-hosted API, over Odoo's HTTP server.

The envelope and security phases, with the sync and signing capabilities: the async, callback
and subscription checks need the outbox cron to run while the suite waits, which Odoo's test
runner (one test cursor, requests serialised) does not allow; the cron itself is tested in
test_outbox.
"""

import json
import logging
import socket
import tempfile
from collections import Counter
from pathlib import Path

from odoo.tests import HttpCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_conformance.config import RunConfig
from ibr_conformance.phases import Phase
from ibr_conformance.requirements import RequirementCatalogue, default_catalogue_path
from ibr_conformance.results import Outcome
from ibr_conformance.runner import run
from ibr_protocol.clock import utc_now
from ibr_protocol.signing import generate_signing_key, public_jwk
from ibr_service.security.clients import register_client

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestConformanceSuite(HttpCase):
    def test_ibr_profile_envelope_and_security_phases_pass(self):
        key = generate_signing_key("conf-odoo-1")
        key_file = Path(tempfile.mkdtemp(prefix="ibr-conf-")) / "suite.jwk.json"
        key_file.write_text(json.dumps(key))
        store = OdooStore(self.env)
        with socket.socket() as probe:  # the suite's callback receiver port, chosen up front
            probe.bind(("127.0.0.1", 0))
            callback_port = probe.getsockname()[1]

        def client(sender_id, **options):
            _record, secret = register_client(
                store,
                sender_id=sender_id,
                now=utc_now(),
                public_keys=[public_jwk(key)],
                allowed_callback_hosts=[f"127.0.0.1:{callback_port}"],
                allow_private_callbacks=True,
                **options,
            )
            return secret

        config = RunConfig(
            base_url=self.base_url(),
            base_path="/ibr",
            client_id="conf-main",
            client_secret=client("conf-main", allowed_programmes=["CONF-PROG"]),
            second_client_id="conf-second",
            second_client_secret=client("conf-second", allowed_programmes=["OTHER-PROG"]),
            limited_client_id="conf-limited",
            limited_client_secret=client("conf-limited", scopes=["registry.enrolled"]),
            signing_key=str(key_file),
            callback_port=callback_port,
            capabilities=("sync", "signing"),
            phases=(Phase.ENVELOPE, Phase.SECURITY),
        )
        catalogue = RequirementCatalogue.from_file(default_catalogue_path())
        with self.allow_requests(all_requests=True):
            finished = run(config, catalogue=catalogue)
        outcomes = {r.check: r.outcome for r in finished.results}
        _logger.info("conformance outcomes: %s", dict(Counter(o.value for o in outcomes.values())))
        ran = [c for c, o in outcomes.items() if o in (Outcome.PASS, Outcome.FAIL, Outcome.WARN)]
        self.assertGreater(len(ran), 10, outcomes)
        failed = {
            r.check: [f.message for f in r.failures][:2] or r.reason
            for r in finished.results
            if r.outcome not in (Outcome.PASS, Outcome.WARN, Outcome.SKIP)
        }
        self.assertEqual(failed, {})
