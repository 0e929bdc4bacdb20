"""The command line: one-line errors, key generation, push through the CLI."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ibr_client.cli import app

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
