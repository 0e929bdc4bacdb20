"""`ibr serve --dci-sandbox`: never the default, warns at start with every relaxation, runs on a
temporary demo database, relaxes DCI's scenario paths `/ibr/<operation>` only; the standard's
paths stay as strict as in production."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ibr_service.api.loopback import free_loopback_socket
from ibr_service.cli.sandbox import DCI_SANDBOX_RELAXATIONS, dci_sandbox


@pytest.fixture(scope="module")
def box_url() -> Iterator[str]:
    with dci_sandbox() as (url, _):
        yield url


def _raw_post(url: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """An empty POST without any header, reading the header names as sent."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, body=b"", headers={})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "top_level"),
    [
        ("/ibr/search", "transaction_id"),
        ("/ibr/sync/search", "reference_id"),
        ("/ibr/sync/txn/status", "txnstatus_response"),
        ("/ibr/sync/enrolled", "message"),
        ("/ibr/txn/on-status", "message"),
    ],
)
def test_scenario_paths_answer_demo_bodies_to_empty_unauthenticated_posts(
    box_url: str, path: str, top_level: str
) -> None:
    status, headers, body = _raw_post(box_url, path)
    assert status == 200
    assert ("Content-Type", "application/json") in headers  # the literal spelling
    assert top_level in httpx.Response(200, content=body).json()


def test_demo_search_item_is_synthetic_spec_data(box_url: str) -> None:
    item = httpx.post(f"{box_url}/ibr/sync/search").json()
    assert item["data"]["reg_records"][0]["member"]["member_identifier"][0]["identifier_value"] == (
        "21458796"  # spec/examples: a throwaway synthetic person
    )


@pytest.mark.parametrize(
    "path", ["/registry/search", "/ibr/registry/search", "/registry/sync/search"]
)
def test_the_standard_paths_stay_strict(box_url: str, path: str) -> None:
    status, _, _ = _raw_post(box_url, path)
    assert status == 415
    reply = httpx.post(f"{box_url}{path}", json={"header": {}, "message": {}})
    assert reply.status_code == 401


def test_ibr_serve_dci_sandbox_warns_and_never_touches_the_configured_database(
    tmp_path: Path,
) -> None:
    configured = tmp_path / "production.db"
    with free_loopback_socket() as sock:
        port = sock.getsockname()[1]
    env = {**os.environ, "IBR_DATABASE_URL": f"sqlite:///{configured}", "COLUMNS": "200"}
    ibr = Path(sys.executable).parent / "ibr"
    process = subprocess.Popen(
        [str(ibr), "serve", "--dci-sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.post(f"{url}/ibr/subscribe").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("ibr serve --dci-sandbox did not start")
        assert _raw_post(url, "/registry/subscribe")[0] == 415
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "WARNING" in output
    assert "DCI SANDBOX MODE" in output
    assert output.count("relaxed:") == len(DCI_SANDBOX_RELAXATIONS)
    assert not configured.exists()


def test_the_flag_is_documented_in_serve_help() -> None:
    from typer.testing import CliRunner

    from ibr_service.cli import app

    help_text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    assert "--dci-sandbox" in help_text
    assert "never production" in help_text
