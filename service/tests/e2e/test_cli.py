"""The `ibr` command: demo end to end, database, clients, audit and outbox commands."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibr_mock_data import identifier_types_file, small_population
from ibr_protocol import generate_signing_key, public_jwk
from ibr_service.cli import app
from ibr_service.cli.demo import DEMO_POPULATION
from ibr_service.store_sql import SqlStore

from ..api.conftest import pg_database
from .conftest import ibr_command


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``ibr demo --keep``, run once: what it printed, and the folder it ran in."""
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [*ibr_command(), "demo", "--keep", str(folder / "demo")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    return result, folder


@pytest.mark.slow
def test_demo_runs_every_process_and_exits_zero(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """If this fails, the README's first command does not work for a newcomer."""
    result, folder = demo
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = ("PRS.IBR.01", "PRS.IBR.02", "PRS.IBR.03", "async search", "txn status")
    for step in (*steps, "what the IBR answers", "overlaps found", "feed quality"):
        assert step in result.stdout
    assert "all steps passed" in result.stdout
    report = (folder / "data" / "ibr-demo-report.html").read_text(encoding="utf-8")
    assert "IBR coverage report" in report


@pytest.mark.slow
def test_demo_registry_counts_the_national_ids_that_fail_their_check_digit(
    demo: tuple[subprocess.CompletedProcess[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, `ibr report quality` on the demo's registry (with the mock countries'
    identifier types) cannot say how many national IDs passed their check digit: the demo
    ingested its mock data without those types, so no record kept its checks."""
    _, folder = demo
    monkeypatch.setenv("IBR_DATABASE_URL", f"sqlite:///{folder / 'demo' / 'ibr-demo.db'}")
    monkeypatch.setenv("IBR_IDENTIFIER_TYPES_FILE", str(identifier_types_file()))
    answer = CliRunner().invoke(app, ["report", "quality"])
    assert answer.exit_code == 0, answer.output
    feeds = json.loads(answer.stdout)["tables"]["feeds"]
    sent = sum(f["NID_sent"] for f in feeds)
    failed = sum(round(f["NID_sent"] * (1 - f["NID_valid"])) for f in feeds if f["NID_sent"])
    typos = [
        case
        for case in small_population(**DEMO_POPULATION).truth
        if "id_typo" in case.get("perturbations", ())
    ]
    assert sent > 0
    assert failed == len(typos) > 0, "the demo plants keying errors in national IDs"


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
            "mis.example.org:443",
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


def test_callback_targets_need_a_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, an operator can register a bare callback host (every port of it reachable
    by the client's callbacks), or cannot re-register a stored one with its port."""
    monkeypatch.setenv("IBR_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0

    bare = runner.invoke(app, ["clients", "add", "sp", "--callback-host", "127.0.0.1"])
    assert bare.exit_code == 2
    assert "127.0.0.1:PORT" in bare.output
    assert "Traceback" not in bare.output
    assert len(bare.output.strip().splitlines()) <= 2

    added = runner.invoke(app, ["clients", "add", "sp", "--callback-host", "127.0.0.1:8443"])
    assert added.exit_code == 0, added.output
    store = SqlStore.from_url(f"sqlite:///{tmp_path}/cli.db")
    try:
        replaced = runner.invoke(
            app,
            [
                *("clients", "callback-targets", "sp"),
                *("--callback-host", "127.0.0.1:9443", "--callback-host", "https://mis.example/cb"),
            ],
        )
        assert replaced.exit_code == 0, replaced.output
        with store.transaction() as tx:
            client = tx.get_client("sp")
        assert client is not None
        assert client.allowed_callback_hosts == {"127.0.0.1:9443", "https://mis.example/cb"}

        refused = runner.invoke(
            app, ["clients", "callback-targets", "sp", "--callback-host", "127.0.0.1"]
        )
        assert refused.exit_code == 2
        assert "127.0.0.1:PORT" in refused.output
        unknown = runner.invoke(
            app, ["clients", "callback-targets", "nobody", "--callback-host", "h:1"]
        )
        assert unknown.exit_code == 2
        assert "no client" in unknown.output
        with store.transaction() as tx:
            client = tx.get_client("sp")
        assert client is not None
        assert client.allowed_callback_hosts == {"127.0.0.1:9443", "https://mis.example/cb"}
    finally:
        store.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cli_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL database ibr_test_cbauth_* of its
    own (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cli.db"
        return
    with pg_database("ibr_test_cbauth") as url:
        yield url


def test_callback_auth_flags_and_command(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, an operator cannot tell the IBR where to get tokens for its callbacks to
    an SP-MIS (IBR-SEC-004), or `ibr clients list` prints the secret the IBR presents there."""
    monkeypatch.setenv("IBR_DATABASE_URL", cli_database)
    monkeypatch.delenv("IBR_CALLBACK_CLIENT_SECRET", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    token_url = "https://mis.example.org/oauth2/client/token"

    added = runner.invoke(
        app,
        [
            "clients",
            "add",
            "spmis-b",
            "--callback-host",
            "mis.example.org:443",
            "--callback-token-url",
            token_url,
            "--callback-client-id",
            "IBR-KE",
        ],
        env={"IBR_CALLBACK_CLIENT_SECRET": "secret-from-env"},
    )
    assert added.exit_code == 0, added.output
    no_secret = runner.invoke(app, ["clients", "add", "spmis-c", "--callback-token-url", token_url])
    assert no_secret.exit_code == 2
    assert "needs the client secret" in no_secret.output
    assert runner.invoke(app, ["clients", "add", "spmis-d"]).exit_code == 0

    store = SqlStore.from_url(cli_database)
    try:
        with store.transaction() as tx:
            b, d = tx.get_client("spmis-b"), tx.get_client("spmis-d")
            refused = tx.get_client("spmis-c")
        assert b is not None
        assert d is not None
        assert refused is None
        assert (b.callback_token_url, b.callback_client_id) == (token_url, "IBR-KE")
        assert b.callback_client_secret == "secret-from-env"
        assert d.callback_token_url is None

        listed = runner.invoke(app, ["clients", "list"], env={"COLUMNS": "300"})
        assert f"{token_url} as IBR-KE" in listed.output
        assert "secret-from-env" not in listed.output

        other_url = "https://mis.example.org/token"
        changed = runner.invoke(
            app,
            [
                *("clients", "callback-auth", "spmis-d", "--token-url", other_url),
                *("--client-secret", "given-on-the-command-line"),
            ],
        )
        assert changed.exit_code == 0, changed.output
        assert f"{other_url} as receiver_id" in changed.output
        assert "given-on-the-command-line" not in changed.output
        cleared = runner.invoke(app, ["clients", "callback-auth", "spmis-b", "--clear"])
        assert cleared.exit_code == 0, cleared.output
        unknown = runner.invoke(
            app,
            [
                *("clients", "callback-auth", "nobody", "--token-url", other_url),
                *("--client-secret", "x"),
            ],
        )
        assert unknown.exit_code == 2
        with store.transaction() as tx:
            b, d = tx.get_client("spmis-b"), tx.get_client("spmis-d")
        assert b is not None
        assert d is not None
        assert (b.callback_token_url, b.callback_client_secret) == (None, None)
        assert (d.callback_token_url, d.callback_client_id) == (other_url, None)
        assert d.callback_client_secret == "given-on-the-command-line"
    finally:
        store.engine.dispose()
