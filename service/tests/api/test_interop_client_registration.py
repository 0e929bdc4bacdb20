"""`ibr clients add --signature --callback-url`, `ibr clients interop` and `ibr clients list`:
a client's signature policy and callback base URL are registered, shown and validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ibr_service.cli import app
from ibr_service.security.client_interop import check_callback_base_url, set_client_interop
from ibr_service.store_sql import SqlStore


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/ibr.db"
    monkeypatch.setenv("IBR_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return url


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    return result.exit_code, result.output


def _client(url: str, sender_id: str):  # type: ignore[no-untyped-def]
    with SqlStore.from_url(url).transaction() as tx:
        return tx.get_client(sender_id)


def test_add_registers_policy_and_callback_url_and_list_shows_them(database: str) -> None:
    code, out = _run(
        "clients",
        "add",
        "openspp.kit",
        "--signature",
        "optional",
        "--callback-url",
        "https://spmis.example.org/ibr/",
    )
    assert code == 0, out
    assert "optional" in out
    code, _ = _run("clients", "add", "strict.spmis")
    assert code == 0
    client = _client(database, "openspp.kit")
    assert client.signature_policy == "optional"
    assert client.callback_base_url == "https://spmis.example.org/ibr"
    assert _client(database, "strict.spmis").signature_policy == "required"

    code, out = _run("clients", "list")
    assert code == 0, out
    kit_row = next(line for line in out.splitlines() if "openspp.kit" in line)
    assert "optional" in kit_row
    assert "https://spmis.example.org/ibr" in kit_row
    strict_row = next(line for line in out.splitlines() if "strict.spmis" in line)
    assert "required" in strict_row


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--signature", "sometimes", "signature policy 'sometimes'"),
        ("--callback-url", "ftp://spmis.example.org", "not an absolute http(s) URL"),
        ("--callback-url", "https://user:pw@spmis.example.org", "credentials"),
    ],
)
def test_bad_values_are_one_line_errors_and_register_nothing(
    database: str, option: str, value: str, message: str
) -> None:
    code, out = _run("clients", "add", "bad.spmis", option, value)
    assert code == 2
    assert message in out
    assert "Traceback" not in out
    assert _client(database, "bad.spmis") is None


def test_interop_changes_an_existing_client(database: str) -> None:
    assert _run("clients", "add", "later.spmis")[0] == 0
    code, out = _run("clients", "interop", "later.spmis", "--signature", "optional")
    assert code == 0, out
    assert _client(database, "later.spmis").signature_policy == "optional"
    code, out = _run(
        "clients",
        "interop",
        "later.spmis",
        "--signature",
        "required",
        "--callback-url",
        "http://127.0.0.1:9000",
    )
    assert code == 0, out
    client = _client(database, "later.spmis")
    assert (client.signature_policy, client.callback_base_url) == (
        "required",
        "http://127.0.0.1:9000",
    )
    assert _run("clients", "interop", "later.spmis", "--no-callback-url")[0] == 0
    assert _client(database, "later.spmis").callback_base_url is None
    code, out = _run("clients", "interop", "nobody", "--signature", "optional")
    assert code == 2
    assert "no client" in out


def test_set_client_interop_refuses_an_unknown_client(database: str) -> None:
    with pytest.raises(ValueError, match="no client"):
        set_client_interop(SqlStore.from_url(database), "ghost", signature_policy="optional")
    with pytest.raises(ValueError, match="query or fragment"):
        check_callback_base_url("https://spmis.example.org/cb?x=1")
