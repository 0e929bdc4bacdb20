"""An operator's ordinary mistakes end in one or two lines saying what to fix (never a
traceback), the audit head detects a cut tail, and clients can be disabled, enabled, removed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibr_protocol import generate_signing_key, public_jwk
from ibr_service.cli import app
from ibr_service.security.clients import authenticate_client
from ibr_service.security.errors import AuthenticationError
from ibr_service.store_sql import SqlStore

from .conftest import ibr_command


def _fails_in_two_lines(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the real `ibr` binary; assert exit 2 and at most two lines, no traceback."""
    result = subprocess.run(
        [*ibr_command(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200", **env},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) <= 2, output
    return output


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url at all", "is not a database URL"),
        ("postgres+nosuchdriver://u@h/db", "is not a database URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/ibr", "connection refused"),
    ],
)
def test_a_bad_or_unreachable_database_url_is_one_line(
    tmp_path: Path, url: str, expected: str
) -> None:
    """If this fails, an operator's typo in IBR_DATABASE_URL prints a long traceback."""
    output = _fails_in_two_lines(["clients", "list"], {"IBR_DATABASE_URL": url}, tmp_path)
    assert expected in output
    assert "IBR_DATABASE_URL" in output


@pytest.mark.postgres
def test_db_upgrade_on_a_missing_database_says_how_to_create_it(tmp_path: Path) -> None:
    """If this fails, `ibr db upgrade` on a fresh server does not say to create the database."""
    name = f"ibr_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    output = _fails_in_two_lines(["db", "upgrade"], {"IBR_DATABASE_URL": url}, tmp_path)
    assert f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}" in output
    assert "ibr db upgrade" in output


def test_a_bad_setting_value_names_the_variable(tmp_path: Path) -> None:
    """If this fails, IBR_STRICT_SIGNATURES=maybe ends in a pydantic traceback."""
    env = {"IBR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "IBR_STRICT_SIGNATURES": "maybe"}
    output = _fails_in_two_lines(["clients", "list"], env, tmp_path)
    assert "IBR_STRICT_SIGNATURES='maybe' is not valid" in output


def test_audit_verify_without_a_database_url_says_to_set_it(tmp_path: Path) -> None:
    """If this fails, `ibr audit verify` creates an empty ./data/ibr.db or prints a traceback."""
    output = _fails_in_two_lines(["audit", "verify"], {}, tmp_path)
    assert "IBR_DATABASE_URL is not set" in output
    assert not (tmp_path / "data" / "ibr.db").exists()


def test_a_missing_key_file_and_a_missing_schema_are_one_line(tmp_path: Path) -> None:
    """If this fails, a wrong --public-key path or an unmigrated database is a traceback."""
    env = {"IBR_DATABASE_URL": f"sqlite:///{tmp_path}/ibr.db"}
    (tmp_path / "ibr.db").touch()
    output = _fails_in_two_lines(["clients", "list"], env, tmp_path)
    assert "run `ibr db upgrade`" in output
    subprocess.run(
        [*ibr_command(), "db", "upgrade"],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    missing = tmp_path / "nope.jwk"
    output = _fails_in_two_lines(
        ["clients", "add", "x", "--public-key", str(missing)], env, tmp_path
    )
    assert f"the file {missing} does not exist" in output


def test_audit_head_detects_a_cut_tail_and_clients_are_disabled_enabled_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, deleting the newest audit entries goes unnoticed, or an operator cannot
    stop a client."""
    database = tmp_path / "cli.db"
    url = f"sqlite:///{database}"
    monkeypatch.setenv("IBR_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    key_file = tmp_path / "pub.json"
    key_file.write_text(json.dumps(public_jwk(generate_signing_key("spmis-a#sig-1"))))
    added = runner.invoke(app, ["clients", "add", "spmis-a", "--public-key", str(key_file)])
    secret = added.output.split("client_secret:")[1].split()[0]
    store = SqlStore.from_url(url)
    authenticate_client(store, "spmis-a", secret)

    assert runner.invoke(app, ["clients", "disable", "spmis-a"]).exit_code == 0
    with pytest.raises(AuthenticationError):
        authenticate_client(store, "spmis-a", secret)
    assert runner.invoke(app, ["clients", "enable", "spmis-a"]).exit_code == 0
    authenticate_client(store, "spmis-a", secret)

    head = runner.invoke(app, ["audit", "head"])
    assert head.exit_code == 0, head.output
    recorded = head.output.strip()
    seq = int(recorded.split(":")[0])
    assert seq >= 2
    assert runner.invoke(app, ["audit", "verify", "--expect-head", recorded]).exit_code == 0

    removed = runner.invoke(app, ["clients", "remove", "spmis-a", "--yes"])
    assert removed.exit_code == 0, removed.output
    with store.transaction() as tx:
        client = tx.get_client("spmis-a")
    assert client is not None
    assert not client.active
    assert client.public_jwks == {"keys": []}
    runner.invoke(app, ["clients", "enable", "spmis-a"])
    with pytest.raises(AuthenticationError):  # the old secret was erased
        authenticate_client(store, "spmis-a", secret)
    store.engine.dispose()

    with sqlite3.connect(database) as db:  # an intruder cuts the tail: the chain stays valid
        db.execute("DELETE FROM audit_log WHERE seq >= ?", (seq,))
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    cut = runner.invoke(app, ["audit", "verify", "--expect-head", recorded])
    assert cut.exit_code == 1
    assert "were removed" in cut.output
    bad = runner.invoke(app, ["audit", "verify", "--expect-head", "12:abc"])
    assert bad.exit_code == 2
