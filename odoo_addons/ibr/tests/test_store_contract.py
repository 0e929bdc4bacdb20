"""The core's store contract, run on the `OdooStore` under Odoo's test runner."""

from contextlib import closing
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from odoo.addons.ibr.store import OdooStore

from ibr_service.core.store_contract import CONTRACT_CHECKS

from .common import clear_core_tables


@tagged("post_install", "-at_install")
class TestOdooStoreContract(TransactionCase):
    """One test per contract check, each on an empty store (a savepoint rolled back after)."""

    bulk_threshold = 2000

    def _run_check(self, check):
        with closing(self.env.cr.savepoint(flush=False)):
            clear_core_tables(self.env)
            check(OdooStore(self.env, bulk_threshold=self.bulk_threshold))

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


@tagged("post_install", "-at_install")
class TestOdooStoreContractCopyPath(TestOdooStoreContract):
    """The same contract with every batch written by COPY + set-wise merge (over psycopg2)."""

    bulk_threshold = 1
    allow_inherited_tests_method = True  # Odoo's loader skips inherited tests otherwise

    def test_batches_take_the_copy_path(self):
        from ibr_service.store_sql import bulk

        with patch.object(bulk, "copy_rows", wraps=bulk.copy_rows) as copy_rows:
            self._run_check(CONTRACT_CHECKS[0])
        self.assertGreater(copy_rows.call_count, 0)


def _make_test(check):
    def test(self):
        self._run_check(check)

    test.__doc__ = check.__doc__ or check.__name__
    return test


for _check in CONTRACT_CHECKS:
    setattr(TestOdooStoreContract, f"test_{_check.__name__}", _make_test(_check))
