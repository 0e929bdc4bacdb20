"""The configurable base path: every route moves under it; unknown paths answer an ERR, not HTML."""

from __future__ import annotations

from pathlib import Path

from ibr_service.cli.sandbox import sandbox
from ibr_service.cli.spmis import enrolled_message

from .conftest import fast_settings


def test_routes_are_mounted_under_the_base_path(tmp_path: Path) -> None:
    """If this fails, an IBR behind a reverse-proxy prefix is unreachable or leaks root routes."""
    settings = fast_settings(f"sqlite:///{tmp_path}/ibr.db", base_path="/dci/")
    with sandbox(settings) as box:
        assert box.spmis.base_url.endswith("/dci")
        reply = box.spmis.send("/registry/sync/enrolled", "search", enrolled_message("1"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["message"]["enrolled_response"][0]["enrolled_status"] == "no"
        assert box.spmis.http.get(f"{box.url}/dci/.well-known/jwks.json").status_code == 200
        missing = box.spmis.http.post(f"{box.url}/registry/sync/enrolled", json={})
        assert missing.status_code == 404
        error = missing.json()["message"]["error"]
        assert error["code"] == "err.request.not_found"
        assert "/registry/sync/enrolled" in error["message"]
