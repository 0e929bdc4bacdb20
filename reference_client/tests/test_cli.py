"""The command line: one-line errors, key generation, search queries."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ibr_client.cli import app

from .conftest import cli_env

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, sp_key: dict[str, Any], url: str) -> dict[str, str]:
    key_file = tmp_path / "sp.jwk.json"
    key_file.write_text(json.dumps(sp_key))
    return {
        "IBR_CLIENT_IBR_URL": url,
        "IBR_CLIENT_CLIENT_ID": "pension-mis",
        "IBR_CLIENT_CLIENT_SECRET": "s3cret",
        "IBR_CLIENT_SENDER_ID": "pension-mis",
        "IBR_CLIENT_SIGNING_KEY_FILE": str(key_file),
        "IBR_CLIENT_STATE_DIR": str(tmp_path / "state"),
        "IBR_CLIENT_VERIFY_CALLBACKS": "false",
        "IBR_CLIENT_RETRIES": "0",
    }


def test_unreachable_ibr_is_one_line_saying_what_to_fix(
    tmp_path: Path, sp_key: dict[str, Any]
) -> None:
    """If this fails, operators get a traceback instead of 'check the IBR URL'."""
    url = f"http://127.0.0.1:{_closed_port()}"
    result = runner.invoke(app, ["enrolled", "NID", "1"], env=_env(tmp_path, sp_key, url))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: cannot reach the IBR at " + url)
    assert "ibr_url" in lines[0]
    assert "Traceback" not in result.output


def test_missing_configuration_is_one_line(tmp_path: Path) -> None:
    """If this fails, a forgotten setting gives a validation dump."""
    result = runner.invoke(app, ["enrolled", "NID", "1"], env={"IBR_CLIENT_CLIENT_ID": "x"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: configuration: ibr_url: is required; set it in the config file or as "
        "IBR_CLIENT_IBR_URL"
    ]


def test_bad_config_file_is_one_line(tmp_path: Path) -> None:
    """If this fails, a TOML syntax error shows a traceback."""
    path = tmp_path / "c.toml"
    path.write_text("ibr_url = \n")
    result = runner.invoke(app, ["status", "t1", "--config", str(path)], env={})
    assert result.exit_code == 1
    assert result.output.startswith("error: configuration: config file: cannot read")
    assert len(result.output.strip().splitlines()) == 1


def test_keys_generate_writes_private_and_prints_public(tmp_path: Path) -> None:
    """If this fails, an operator cannot create the key to register at the IBR."""
    out = tmp_path / "k.json"
    result = runner.invoke(app, ["keys", "generate", "--kid", "mis-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    public = json.loads(result.output)
    private = json.loads(out.read_text())
    assert public["kid"] == private["kid"] == "mis-1"
    assert "d" in private
    assert "d" not in public
    assert out.stat().st_mode & 0o077 == 0


def _sent_criteria(fake_ibr: Any) -> dict[str, Any]:
    path, envelope = fake_ibr.requests[-1]
    assert path == "/registry/sync/search"
    criteria: dict[str, Any] = envelope["message"]["search_request"][0]["search_criteria"]
    return criteria


def test_search_takes_expression_and_predicate_queries(
    tmp_path: Path, sp_key: dict[str, Any], fake_ibr: Any, fake_ibr_url: str
) -> None:
    """If this fails, `ibr-client search` can only look up one identifier: an operator cannot
    ask for a programme's beneficiaries (--expression) or combine conditions (--predicate)."""
    env = cli_env(tmp_path, sp_key, fake_ibr_url)
    expression = '{"programme_identifier": {"eq": "OAP"}}'
    result = runner.invoke(app, ["search", "--expression", expression, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["search_response"][0]["status"] == "succ"
    assert _sent_criteria(fake_ibr) == {
        "query_type": "expression",
        "query": {
            "type": "expression",
            "value": {"expression": {"query": {"programme_identifier": {"eq": "OAP"}}}},
        },
    }

    conditions = [
        {"attribute_name": "programme_identifier", "operator": "eq", "attribute_value": "OAP"},
        {"attribute_name": "sex", "operator": "eq", "attribute_value": "female"},
    ]
    predicate_file = tmp_path / "predicate.json"
    predicate_file.write_text(json.dumps(conditions))
    result = runner.invoke(app, ["search", "--predicate", str(predicate_file)], env=env)
    assert result.exit_code == 0, result.output
    assert _sent_criteria(fake_ibr) == {
        "query_type": "predicate",
        "query": [
            {"seq_num": 1, "expression1": conditions[0]},
            {"seq_num": 2, "expression1": conditions[1]},
        ],
    }

    dci_items = [{"seq_num": 1, "expression1": conditions[1]}]
    result = runner.invoke(app, ["search", "--predicate", json.dumps(dci_items)], env=env)
    assert result.exit_code == 0, result.output
    assert _sent_criteria(fake_ibr)["query"] == dci_items

    result = runner.invoke(app, ["search", "NID", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert _sent_criteria(fake_ibr)["query"] == {"type": "NID", "value": "1"}


def test_bad_search_input_is_one_line(
    tmp_path: Path, sp_key: dict[str, Any], fake_ibr: Any, fake_ibr_url: str
) -> None:
    """If this fails, a typo in a query's JSON gives a usage box or a traceback, or a query
    the IBR cannot read is sent."""
    env = cli_env(tmp_path, sp_key, fake_ibr_url)
    cases = {
        ("--expression", '{"programme_identifier": '): "error: --expression: the value is not JSON",
        ("--predicate", "[1, 2]"): "error: --predicate: must be a JSON object or a list of them",
        ("--predicate", "missing.json"): "error: --predicate: the value is not JSON",
        ("--expression", "[]"): "error: --expression: must be a JSON object",
        ("NID",): "error: search: TYPE needs a VALUE",
        ("NID", "1", "--expression", "{}"): "error: search: give exactly one of",
    }
    for args, expected in cases.items():
        result = runner.invoke(app, ["search", *args], env=env)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, (args, result.output)
        assert lines[0].startswith(expected), (args, result.output)
    bad_filter = runner.invoke(
        app, ["subscribe", "--event", "enrollement", "--filter", "{bad"], env=env
    )
    assert bad_filter.exit_code == 2
    assert bad_filter.output.strip().startswith("error: --filter: the value is not JSON")
    assert len(bad_filter.output.strip().splitlines()) == 1
    assert fake_ibr.requests == [], "nothing may be sent for bad input"
