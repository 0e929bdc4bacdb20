"""The sp-mis profile against the reference SP-MIS (`ibr-client listen --trigger`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ibr_conformance.cli import app
from ibr_conformance.config import RunConfig
from ibr_conformance.events import RunFinished
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.results import Outcome
from ibr_conformance.runner import run

from .reference_sp_mis import (
    IBR_CLIENT_SECRET,
    MOCK_CLIENT_SECRET,
    SP_MIS_ID,
    ReferenceSpMis,
    reference_sp_mis,
)


@pytest.fixture(scope="module")
def sp_mis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceSpMis]:
    with reference_sp_mis(tmp_path_factory.mktemp("sp-mis")) as server:
        yield server


def _settings(sp_mis: ReferenceSpMis, suite_key_file: Path) -> dict[str, Any]:
    """The sp-mis profile's settings for the reference SP-MIS (as a vendor's config file)."""
    return {
        "profile": "sp-mis",
        "base_url": sp_mis.url,
        "trigger_url": sp_mis.trigger_url,
        "sp_mis_jwks": str(sp_mis.jwks_file),
        "mock_ibr_port": sp_mis.mock_ibr_port,
        "mock_client_id": SP_MIS_ID,
        "mock_client_secret": MOCK_CLIENT_SECRET,
        "client_secret": IBR_CLIENT_SECRET,
        "sender_id": SP_MIS_ID,
        "signing_key": str(suite_key_file),
        "callback_timeout": 5.0,
    }


@pytest.fixture(scope="module")
def sp_mis_run(
    sp_mis: ReferenceSpMis, suite_key_file: Path, catalogue: RequirementCatalogue
) -> RunFinished:
    config = RunConfig.model_validate({**_settings(sp_mis, suite_key_file), "fuzz_max_examples": 3})
    return run(config, catalogue=catalogue)


def _failed(final: RunFinished) -> set[str]:
    return {rid for r in final.results for f in r.failures for rid in f.requirement_ids}


def test_reference_sp_mis_passes_with_zero_failures(sp_mis_run: RunFinished) -> None:
    """If this fails, the suite reports the reference SP-MIS broken (or cannot drive it): a
    regression of the SP-MIS or a false failure vendors would get too."""
    errors = [(r.check, r.reason[:300]) for r in sp_mis_run.results if r.outcome is Outcome.ERROR]
    assert errors == []
    failed = _failed(sp_mis_run)
    assert failed == set(), [
        (r.check, [f.message[:300] for f in r.failures]) for r in sp_mis_run.results if r.failures
    ]
    print(json.dumps({"sp_mis_profile_seconds": round(sp_mis_run.duration_ms / 1000, 1)}))
    passed = {r.check for r in sp_mis_run.results if r.outcome is Outcome.PASS}
    # The checks that prove the endpoints, their authentication and the client behaviour
    # really ran and passed (a skip would hide a missing token endpoint).
    assert {
        "valid_callbacks_are_acknowledged",
        "unsigned_callback_is_refused",
        "tampered_callback_is_refused",
        "stale_callback_is_refused",
        "replayed_callback_is_refused",
        "callback_of_another_media_type_gets_415",
        "triggered_requests_follow_the_spec",
        "sp_mis_token_endpoint",
        "callback_without_token_is_refused_with_401",
        "callback_with_forged_or_expired_token_is_refused_with_401",
        "callback_token_without_the_scope_is_refused_with_403",
        "callback_from_another_sender_than_the_token_is_refused",
        "callback_checks_come_in_order",
        "sp_mis_callbacks_survive_schema_driven_fuzzing",
    } <= passed


def test_cli_run_against_the_reference_sp_mis_is_conformant(
    sp_mis_run: RunFinished, sp_mis: ReferenceSpMis, suite_key_file: Path, tmp_path: Path
) -> None:
    """If this fails, a vendor running `ibr-conformance run --profile sp-mis` from the command
    line gets a different verdict (or no reports) than the API run above. Fuzzing is left out
    here: the API run covers it, after which this run reuses the mock IBR's port."""
    out = tmp_path / "out"
    settings = {
        **_settings(sp_mis, suite_key_file),
        "phases": ["envelope", "security", "scenarios"],
        "output_dir": str(out),
    }
    config = tmp_path / "conformance-sp-mis.yaml"
    config.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 0, result.output[-2000:]
    doc = json.loads((out / "report.json").read_text())
    assert (doc["profile"], doc["conformant"], doc["summary"]["fail"]) == ("sp-mis", True, 0)
    assert {"junit.xml", "report.html", "evidence.zip"} <= {p.name for p in out.iterdir()}
    assert IBR_CLIENT_SECRET not in (out / "report.json").read_text()
