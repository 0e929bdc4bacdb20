"""The `ibr-spec` command: the interim demo must run and report honestly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ibr_protocol.cli import app
from ibr_protocol.spec import spec_dir

from .conftest import DCI_IBR_SAMPLES

runner = CliRunner()


def test_check_passes_on_the_spec() -> None:
    """`ibr-spec check` exits 0 when every schema and example is right."""
    result = runner.invoke(app, ["check"])
    assert "failed" in result.output
    assert result.exit_code == 0, result.output[-3000:]


def test_normalise_prints_rules(tmp_path: Path) -> None:
    """`ibr-spec normalise` shows the canonical form and the rules it applied."""
    variant = next((spec_dir() / "examples" / "dci-variants").glob("*.json"))
    result = runner.invoke(app, ["normalise", str(variant)])
    assert result.exit_code == 0, result.output
    assert "C-" in result.output


def test_normalise_of_dci_sample_in_strict_mode_fails() -> None:
    """With --reject-unmapped the DCI enrolment sample fails, naming occupation."""
    sample = DCI_IBR_SAMPLES / "processflow1req.json"
    if not sample.is_file():
        return
    result = runner.invoke(app, ["normalise", "--reject-unmapped", str(sample)])
    assert result.exit_code == 1
    assert "occupation" in result.output


def test_show_prints_json() -> None:
    """`ibr-spec show` pretty-prints a file."""
    example = next((spec_dir() / "examples" / "valid").rglob("ack.json"))
    result = runner.invoke(app, ["show", str(example)])
    assert result.exit_code == 0
    assert "ack_status" in result.output
