"""Health and readiness: /ready reflects whether the database answers."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx

from ibr_service.api import build_host, create_app
from ibr_service.api.loopback import serve_in_thread
from ibr_service.cli.sandbox import migrate

from .conftest import fast_settings


class _DownStore:
    """A store whose database is unreachable."""

    def transaction(self) -> AbstractContextManager[Any]:
        raise ConnectionError("database is down")


def test_ready_reports_a_database_outage(tmp_path: Path) -> None:
    """If this fails, a load balancer keeps sending traffic to an IBR without its database."""
    settings = fast_settings(f"sqlite:///{tmp_path}/ibr.db", run_outbox=False)
    migrate(settings.database_url)
    host = build_host(settings)
    broken = dataclasses.replace(host, store=_DownStore())  # type: ignore[arg-type]
    with serve_in_thread(create_app(host)) as up, serve_in_thread(create_app(broken)) as down:
        assert httpx.get(f"{up}/ready").json() == {"status": "ready"}
        reply = httpx.get(f"{down}/ready")
        assert reply.status_code == 503
        assert reply.json()["status"] == "unavailable"
        assert httpx.get(f"{down}/health").status_code == 200
    host.store.engine.dispose()  # type: ignore[attr-defined]
