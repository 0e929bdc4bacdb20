"""The `ibr` command: demo end to end, database, clients, audit and outbox commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibr_protocol import generate_signing_key, public_jwk
from ibr_service.cli import app

from .conftest import ibr_command


@pytest.mark.slow
def test_demo_runs_every_process_and_exits_zero(tmp_path: Path) -> None:
    """If this fails, the README's first command does not work for a newcomer."""
    result = subprocess.run(
        [*ibr_command(), "demo", "--keep", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ("PRS.IBR.01", "PRS.IBR.02", "PRS.IBR.03", "async search", "txn status"):
        assert step in result.stdout
    assert "all steps passed" in result.stdout


def test_db_clients_audit_and_outbox_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, operators cannot migrate, onboard an SP-MIS, rotate it or check the audit."""
    monkeypatch.setenv("IBR_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0

    key = generate_signing_key("spmis-a#sig-1")
    key_file = tmp_path / "pub.json"
    key_file.write_text(json.dumps(public_jwk(key)))
    added = runner.invoke(
        app,
        [
            "clients",
            "add",
            "spmis-a",
            "--public-key",
            str(key_file),
            "--callback-host",
            "mis.example.org",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "client_secret:" in added.output

    listed = runner.invoke(app, ["clients", "list"], env={"COLUMNS": "200"})
    assert "spmis-a" in listed.output
    assert "spmis-a#sig-1" in listed.output
    assert "client_secret" not in listed.output

    rotated = runner.invoke(app, ["clients", "rotate", "spmis-a", "--remove-kid", "spmis-a#sig-1"])
    assert rotated.exit_code == 0, rotated.output
    assert "new client_secret:" in rotated.output
    assert "keys now: none" in rotated.output

    duplicate = runner.invoke(app, ["clients", "add", "spmis-a"])
    assert duplicate.exit_code != 0

    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "intact" in verified.output

    once = runner.invoke(app, ["outbox", "run", "--once"])
    assert once.exit_code == 0, once.output
    assert "delivered 0" in once.output
