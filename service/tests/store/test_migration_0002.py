"""Migration 0002 (callback authentication columns) upgrades a database that already holds
clients, on SQLite and PostgreSQL (database ibr_test_cbauth), through `ibr db upgrade`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ibr_service.cli import app
from ibr_service.security.clients import set_callback_auth
from ibr_service.store_sql import SqlStore, upgrade
from ibr_service.store_sql.migrate import alembic_config

from ..api.conftest import pg_database
from .conftest import _postgres_available

PG_DB = "ibr_test_cbauth"

INSERT_0001_CLIENT = text(
    "INSERT INTO clients (sender_id, secret_hash, public_jwks, scopes, allowed_callback_hosts, "
    "allowed_programmes, allow_private_callbacks, active, created_at) VALUES "
    "('old-spmis', 'scrypt$x', '{\"keys\": []}', '[\"registry.search\"]', '[\"mis.example\"]', "
    "NULL, false, true, :created)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with pg_database(PG_DB) as pg_url:
        yield pg_url


def test_db_upgrade_adds_callback_auth_to_an_existing_database(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a deployment made before callback authentication cannot upgrade, or its
    clients are lost or wrongly given a token endpoint by the upgrade."""
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(INSERT_0001_CLIENT, {"created": "2026-01-01 00:00:00"})
    engine.dispose()

    monkeypatch.setenv("IBR_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output

    store = SqlStore.from_url(url)
    try:
        with store.transaction() as tx:
            old = tx.get_client("old-spmis")
        assert old is not None
        assert old.allowed_callback_hosts == frozenset({"mis.example"})
        assert (old.callback_token_url, old.callback_client_id, old.callback_client_secret) == (
            None,
            None,
            None,
        )
        set_callback_auth(
            store,
            "old-spmis",
            token_url="https://mis.example/oauth2/client/token",
            client_secret="from-the-spmis",
        )
        with store.transaction() as tx:
            updated = tx.get_client("old-spmis")
        assert updated is not None
        assert updated.callback_token_url == "https://mis.example/oauth2/client/token"
        assert updated.callback_client_secret == "from-the-spmis"
    finally:
        store.engine.dispose()


def test_migration_0002_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    """If this fails, rolling back a release that added callback auth breaks the database."""
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    engine = create_engine(url)
    with engine.connect() as connection:
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(clients)"))}
    engine.dispose()
    assert "callback_token_url" not in columns
    upgrade(url)
    store = SqlStore.from_url(url)
    with store.transaction() as tx:
        assert tx.list_clients() == []
    store.engine.dispose()
