"""Two Odoo transactions appending to the core's audit chain at the same time.

Odoo's transactions are REPEATABLE READ: the snapshot is taken at their first statement, so a
transaction that waited for the audit chain's lock must still see the entry its rival committed
meanwhile (the live server found a cron run and an API request writing the same `seq`).
"""

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_protocol.clock import utc_now
from ibr_service.core.audit import append_audit, audit_verify


@tagged("post_install", "-at_install")
class TestAuditChainAcrossTransactions(TransactionCase):
    def _append(self, env, action):
        with OdooStore(env).transaction() as tx:
            return append_audit(
                tx, at=utc_now(), actor="test", action=action, subject="s", detail={}
            )

    def test_an_entry_committed_after_this_transaction_began_is_chained_not_overwritten(self):
        # This transaction's snapshot exists from its first statement on (before the rival).
        self.env.cr.execute("SELECT count(*) FROM ibr.audit_log")
        with self.registry.cursor() as rival_cr:
            rival = self._append(api.Environment(rival_cr, SUPERUSER_ID, {}), "rival")
            rival_cr.commit()
        try:
            mine = self._append(self.env, "mine")
            self.assertEqual(mine.seq, rival.seq + 1)
            self.assertEqual(mine.prev_hash, rival.entry_hash)
        finally:
            with self.registry.cursor() as cleanup_cr:
                cleanup_cr.execute("DELETE FROM ibr.audit_log WHERE seq = %s", [rival.seq])
                cleanup_cr.commit()

    def test_the_chain_of_one_transaction_still_verifies(self):
        for action in ("a", "b", "c"):
            self._append(self.env, action)
        self.assertTrue(audit_verify(OdooStore(self.env)).ok)
