"""Fixtures of the host tests: a running IBR on loopback (SQLite, or PostgreSQL), the spec's
OpenAPI for response validation, and the DCI reference folder."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from ibr_protocol import spec_dir
from ibr_service.cli.sandbox import Sandbox, sandbox
from ibr_service.settings import Settings
from ibr_service.store_sql.scratch import scratch_database

REPO = Path(__file__).resolve().parents[3]
DCI_DIR = REPO.parent / "shared" / "reference" / "dci"
PG_DATABASE = "ibr_test_host"
SPEC_HOST = "https://ibr.example.go.ke"


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: quick outbox polling and retries."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "outbox_poll_seconds": 0.05,
        "outbox_backoff_base_seconds": 0.1,
        "outbox_backoff_cap_seconds": 0.5,
        "max_body_bytes": 256 * 1024,
    }
    values.update(overrides)
    return Settings(**values)


def _start_local_postgres() -> None:
    """Start the newest local cluster when the server is down (a fresh container boots without)."""
    try:
        psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2).close()
    except psycopg.OperationalError:
        clusters = sorted(p.name for p in Path("/etc/postgresql").iterdir())
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
            check=False,
        )


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database ``<prefix>_<random>`` for the block, dropped after it
    (`scratch_database`). Skips the test when PostgreSQL cannot be reached."""
    _start_local_postgres()
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(prefix))
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
        yield url


@pytest.fixture(scope="module")
def ibr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """An IBR on SQLite with one registered SP-MIS and a callback receiver (per test module)."""
    folder = tmp_path_factory.mktemp("ibr")
    with sandbox(fast_settings(f"sqlite:///{folder}/ibr.db")) as box:
        yield box


@pytest.fixture(scope="module")
def ibr_pg() -> Iterator[Sandbox]:
    """The same on PostgreSQL (a database ibr_test_host_* of its own)."""
    with pg_database(PG_DATABASE) as url, sandbox(fast_settings(url)) as box:
        yield box


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def any_ibr(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """The IBR on each backend in turn (PostgreSQL: a database ibr_test_host_* of its own)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ibr')}/ibr.db"
        with sandbox(fast_settings(url)) as box:
            yield box
        return
    with pg_database(PG_DATABASE) as url, sandbox(fast_settings(url)) as box:
        yield box


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    """spec/openapi.yaml, loaded by openapi-core."""
    return OpenAPI.from_file_path(str(spec_dir() / "openapi.yaml"))


def assert_matches_openapi(
    openapi: OpenAPI, path: str, response: httpx.Response, *, method: str = "post"
) -> None:
    """Validate ``response`` of ``path`` (as served, e.g. /ibr/registry/...) against the spec."""
    host_url, spec_path = SPEC_HOST, path
    if path.startswith("/ibr/registry/"):
        host_url, spec_path = f"{SPEC_HOST}/ibr", path[len("/ibr") :]
    request = MockRequest(host_url, method, spec_path)
    mock = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=response.headers.get("content-type", "application/json").split(";")[0],
        headers=dict(response.headers),
    )
    openapi.validate_response(request, mock)


SECURITY_TABLES = frozenset({"audit_log", "seen_messages"})
"""Written by the security layer itself: the audit log (token issuance, reads) and the replay
memory (every request whose signature verified). Excluded only where a test says so."""


def row_counts(box: Sandbox, *, data_only: bool = False) -> dict[str, int]:
    """Row count of every table (``data_only``: without SECURITY_TABLES)."""
    with box.host.store.transaction() as tx:
        counts = tx.count_rows()
    if data_only:
        return {table: n for table, n in counts.items() if table not in SECURITY_TABLES}
    return {table: n for table, n in counts.items() if table != "audit_log"}


@pytest.fixture(scope="session")
def dci_samples() -> Path:
    """The DCI IBR sample messages folder; skips when the reference files are absent."""
    folder = DCI_DIR / "spdci-standards/release/sample-jsons/assets/example_files/ibr"
    if not folder.is_dir():
        pytest.skip(f"DCI reference files not found at {folder}")
    return folder
