"""Callbacks leave through the core's outbox, drained by the Odoo cron, and are retried."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import TransactionCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_protocol.clock import utc_now
from ibr_protocol.envelope import build_request
from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.samples import search_message
from ibr_service.security.clients import register_client

from .common import person_in, publish

SENDER = "SP-Callback-Test"


class _Receiver(BaseHTTPRequestHandler):
    """An SP-MIS callback endpoint on loopback that answers with `status`."""

    status = 503
    received = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        """Quiet: the test reads what arrived."""


@tagged("post_install", "-at_install")
class TestOutboxCron(TransactionCase):
    def setUp(self):
        super().setUp()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        _Receiver.received = []
        store = OdooStore(self.env)
        register_client(
            store,
            sender_id=SENDER,
            now=utc_now(),
            allowed_callback_hosts=[f"127.0.0.1:{self.server.server_port}"],
            allow_private_callbacks=True,
        )
        publish(self.env, person_in("4101", "R1", "D1"))
        core = IbrCore(store, clock=utc_now, settings=CoreSettings(receiver_id="IBR"))
        envelope = build_request(
            action="search",
            message=search_message("idtype-value", {"type": "NID", "value": "4101"}),
            sender_id=SENDER,
            receiver_id="IBR",
            sender_uri=f"http://127.0.0.1:{self.server.server_port}/callback/on-search",
        )
        self.correlation_id = core.accept_async("search", envelope, caller=Caller(SENDER))

    def _jobs(self):
        with OdooStore(self.env).transaction() as tx:
            return tx.outbox_jobs_for(self.correlation_id)

    def test_a_failed_callback_is_retried_by_the_next_run(self):
        _Receiver.status = 503
        first = self.env["ibr.outbox"]._cron_dispatch()
        self.assertEqual((first["transactions"], first["retried"]), (1, 1), first)
        (job,) = self._jobs()
        self.assertEqual((job.status, job.attempts), ("pending", 1))
        # Nothing is kept in memory between runs (as after a restart): the job is a row.
        time.sleep(max(0.0, (job.next_attempt_at - utc_now()).total_seconds()) + 0.1)
        _Receiver.status = 200
        second = self.env["ibr.outbox"]._cron_dispatch()
        self.assertEqual(second["delivered"], 1, second)
        (job,) = self._jobs()
        self.assertEqual((job.status, job.attempts), ("delivered", 2))
        callbacks = [body["header"]["action"] for body in _Receiver.received]
        self.assertEqual(callbacks, ["on-search", "on-search"])
        last = _Receiver.received[-1]
        self.assertIn("signature", last)
        self.assertEqual(last["message"]["correlation_id"], self.correlation_id)
