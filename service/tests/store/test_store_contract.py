"""The store contract (ibr_service.core.store_contract) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ibr_service.core.store import Store
from ibr_service.core.store_contract import CONTRACT_CHECKS
from ibr_service.store_sql import SqlStore


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=[c.__name__ for c in CONTRACT_CHECKS])
def test_sql_store_meets_the_store_contract(
    store: SqlStore, check: Callable[[Store], None]
) -> None:
    """If this fails, the core's assumptions about the store (idempotency, rollback, paging,
    outbox leases, replay memory, ...) do not hold for the SQL store on that backend."""
    check(store)
