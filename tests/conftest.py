"""Fixtures of the cross-package tests: a real IBR on loopback and the reference SP-MIS.

The IBR is the standalone host (`ibr_service.api.create_app`) served by uvicorn in a thread on a
free 127.0.0.1 port, over a migrated database: a temporary SQLite file, or a PostgreSQL database
`ibr_test_xpkg_<random>` (created for each module, dropped after it). The SP-MIS is
`ibr_client`'s `ReferenceSpMis`, registered at the IBR with its own Ed25519 key, so every
request is built, validated, signed and authenticated exactly as in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

import ibr_protocol as proto
from ibr_client import ReferenceSpMis, load_config
from ibr_protocol.clock import utc_now
from ibr_service.api import Host, build_host, create_app
from ibr_service.api.loopback import serve_in_thread
from ibr_service.security.clients import register_client
from ibr_service.settings import Settings
from ibr_service.store_sql import upgrade

PG_DATABASE = os.environ.get("IBR_TEST_PG_PREFIX", "ibr_test") + "_xpkg"
SENDER_ID = "xpkg.spmis"


@dataclass
class LiveIbr:
    """A running IBR and what an SP-MIS needs to talk to it."""

    backend: str
    url: str
    host: Host
    client_secret: str
    signing_key_file: Path


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True)
    except psycopg.OperationalError:
        clusters = sorted(p.name for p in Path("/etc/postgresql").iterdir())
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
            check=False,
        )
        return psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True)


def fresh_pg_database(name: str) -> str:
    """Drop and create the PostgreSQL database ``name``; returns its SQLAlchemy URL."""
    try:
        admin = _pg_admin()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is down and could not be started: {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    """Drop a database a test created under a unique name (they would pile up otherwise)."""
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_ibr(backend: str, folder: Path) -> Iterator[LiveIbr]:
    """Migrate a fresh database, start the IBR on loopback, register the test SP-MIS; a
    PostgreSQL database is named uniquely for the run and dropped afterwards."""
    pg_name = None
    if backend == "postgres":
        pg_name = f"{PG_DATABASE}_{uuid.uuid4().hex[:10]}"
        database_url = fresh_pg_database(pg_name)
    else:
        database_url = f"sqlite:///{folder / 'ibr.db'}"
    upgrade(database_url)
    host = build_host(Settings(database_url=database_url, run_outbox=False))
    key = proto.generate_signing_key("xpkg-sig-1")
    key_file = folder / "spmis.jwk.json"
    key_file.write_text(json.dumps(key))
    _, secret = register_client(
        host.store,
        sender_id=SENDER_ID,
        now=utc_now(),
        public_keys=[proto.public_jwk(key)],
        allowed_callback_hosts=(),  # no receiver: these tests make sync calls only
        allow_private_callbacks=True,
    )
    try:
        with serve_in_thread(create_app(host)) as url:
            yield LiveIbr(backend, url, host, secret, key_file)
    finally:
        engine = getattr(host.store, "engine", None)
        if engine is not None:
            engine.dispose()
        if pg_name is not None:
            drop_pg_database(pg_name)


def connect_sp_mis(ibr: LiveIbr, state_dir: Path) -> ReferenceSpMis:
    """The reference SP-MIS configured for ``ibr`` (no receiver: these tests use sync calls)."""
    config = load_config(
        env={},
        overrides={
            "ibr_url": ibr.url,
            "client_id": SENDER_ID,
            "client_secret": ibr.client_secret,
            "sender_id": SENDER_ID,
            "signing_key_file": str(ibr.signing_key_file),
            "listen_port": 0,
            "state_dir": str(state_dir),
            "batch_size": 100,
            "retries": 0,
        },
    )
    return ReferenceSpMis(config)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def live_ibr(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveIbr]:
    """A fresh IBR per module and backend (SQLite temp file; PostgreSQL `ibr_test_xpkg_*`)."""
    yield from start_ibr(request.param, tmp_path_factory.mktemp(f"ibr-{request.param}"))


@pytest.fixture(scope="module")
def sp_mis(live_ibr: LiveIbr, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceSpMis]:
    """The reference SP-MIS, registered at ``live_ibr``."""
    mis = connect_sp_mis(live_ibr, tmp_path_factory.mktemp("spmis"))
    yield mis
    mis.close()
