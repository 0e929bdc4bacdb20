"""The core's store contract, run on the `OdooStore` under Odoo's test runner."""

from contextlib import closing

from odoo.tests import TransactionCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_service.core.store_contract import CONTRACT_CHECKS

from .common import clear_core_tables


@tagged("post_install", "-at_install")
class TestOdooStoreContract(TransactionCase):
    """One test per contract check, each on an empty store (a savepoint rolled back after)."""

    def _run_check(self, check):
        with closing(self.env.cr.savepoint(flush=False)):
            clear_core_tables(self.env)
            check(OdooStore(self.env))

    def test_writes_commit_and_roll_back_with_odoo(self):
        """The store shares Odoo's transaction: a savepoint of Odoo's rolls its writes back."""
        from .common import person_in, publish

        with closing(self.env.cr.savepoint(flush=False)):
            publish(self.env, person_in("7001", "R1", "D1"))
            self.assertEqual(self.env["ibr.subject"].search_count([]), 1 + self._baseline)
        self.env.invalidate_all()
        self.assertEqual(self.env["ibr.subject"].search_count([]), self._baseline)

    def setUp(self):
        super().setUp()
        self._baseline = self.env["ibr.subject"].search_count([])


def _make_test(check):
    def test(self):
        self._run_check(check)

    test.__doc__ = check.__doc__ or check.__name__
    return test


for _check in CONTRACT_CHECKS:
    setattr(TestOdooStoreContract, f"test_{_check.__name__}", _make_test(_check))
