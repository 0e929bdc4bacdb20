"""An `IbrCore` over a fresh migrated SQL store (SQLite file, or a PostgreSQL database
`ibr_test_core_*` of the session's own, dropped at its end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ibr_service.core import Caller, CoreSettings, IbrCore
from ibr_service.core.records import ClientRecord
from ibr_service.store_sql import SqlStore, upgrade

from ..api.conftest import pg_database

SP = Caller(sender_id="SP-System", scopes=frozenset({"ibr.write", "ibr.search"}))


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def pg_core_url() -> Iterator[str]:
    with pg_database("ibr_test_core") as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ibr.db'}"
        upgrade(url)
        store = SqlStore.from_url(url)
    else:
        store = SqlStore.from_url(request.getfixturevalue("pg_core_url"), bulk_threshold=50)
        with store.engine.begin() as conn:
            names = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename<>'alembic_version'"
                )
            ).scalars()
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)))
    yield store
    store.engine.dispose()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def core(sql_store: SqlStore, clock: StepClock) -> IbrCore:
    """The core, with SP registered as a client (subscribers' read scope is their client's)."""
    with sql_store.transaction() as tx:
        tx.put_client(
            ClientRecord(
                sender_id=SP.sender_id,
                secret_hash="x",
                scopes=SP.scopes,
                created_at=clock(),
            )
        )
    return IbrCore(sql_store, clock=clock, settings=CoreSettings(receiver_id="IBR"))


def counts(core: IbrCore) -> dict[str, int]:
    with core.store.transaction() as tx:
        return tx.count_rows()
