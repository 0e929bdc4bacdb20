"""Fresh, migrated SQL stores for the store tests: SQLite files and the PostgreSQL test database."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from ibr_service.store_sql import SqlStore, upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = os.environ.get("IBR_TEST_PG_PREFIX", "ibr_test") + "_core"
"""`IBR_TEST_PG_PREFIX` keeps the test databases of concurrent checkouts apart."""
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"


def _postgres_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        pass
    clusters = Path("/etc/postgresql")
    if clusters.is_dir() and shutil.which("pg_ctlcluster"):
        version = sorted(p.name for p in clusters.iterdir())[-1]
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
        )
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=5).close()
            return True
        except psycopg.OperationalError:
            return False
    return False


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The PostgreSQL test database, recreated and migrated once per session."""
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_DB}"')
    upgrade(PG_URL)
    return PG_URL


def _empty_pg(url: str) -> SqlStore:
    store = SqlStore.from_url(url, bulk_threshold=50)
    with store.engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname='public' AND tablename<>'alembic_version'"
            )
        ).scalars()
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)))
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """An empty migrated store on SQLite (a file) or PostgreSQL (bulk path from 50 updates)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ibr.db'}"
        upgrade(url)
        sql_store = SqlStore.from_url(url)
    else:
        sql_store = _empty_pg(request.getfixturevalue("pg_migrated"))
    yield sql_store
    sql_store.engine.dispose()
