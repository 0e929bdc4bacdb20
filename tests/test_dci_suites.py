"""OpenSPP's DCI compliance kit (`spdci-compliance`, registry profile `sr-registry`, 28
scenarios) run against our IBR in production mode (strict signatures; the kit's client
registered with signature policy `optional`, because the kit cannot sign), once with the DCI
IBR spec and once with our `spec/bundled/openapi.yaml`. The per-scenario results and the reason
for each scenario that does not pass are in docs/dci-compatibility.md.

Needs npm and the suites in ../shared/reference/dci-suites; skipped without them unless
IBR_REQUIRE_NPM=1 (CI), where it fails instead. Slow: `npm ci` (about 30 s) and two runs of the
kit (about 90 s each; the async txn-status scenario waits 60 s for a callback), and the
kit's signature scenario with its signature mutations on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dci_suites

pytestmark = pytest.mark.slow

DCI_SPEC_NEEDS_CORE_CHANGE = {
    # sync/txn/status of an unknown transaction answers status_reason_code rjct.txn.not_found
    # (ours, DEV-API-27) and no txn_status; DCI's schema has neither. The async variant's
    # callback has the same shape, so the kit's callback server refuses it and the scenario
    # times out. Valid under our spec (the bundled run passes both).
    "sr_sync_txn_status.feature: Successfully get transaction status synchronously",
    "sr_async_workflow.feature: Async txn status triggers txn on-status callback",
}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return dci_suites.prepare_kit(tmp_path_factory.mktemp("kit"))
    except dci_suites.SuiteUnavailableError as exc:
        if os.environ.get("IBR_REQUIRE_NPM") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _run(kit: Path, spec: Path, tmp_path: Path) -> dci_suites.SuiteRun:
    return dci_suites.run_kit_registry_profile(kit, spec=spec, database_dir=tmp_path)


def test_registry_profile_passes_28_of_28_with_the_bundled_spec(kit: Path, tmp_path: Path) -> None:
    run = _run(kit, dci_suites.BUNDLED_SPEC, tmp_path)
    failed = {
        name: run.errors.get(name, status)
        for name, status in run.results.items()
        if status != "passed"
    }
    assert len(run.results) == 28, run.output
    assert not failed, failed


def test_registry_profile_with_the_dci_spec_fails_only_where_the_core_must_change(
    kit: Path, tmp_path: Path
) -> None:
    run = _run(kit, dci_suites.DCI_SPEC, tmp_path)
    failed = {name for name, status in run.results.items() if status != "passed"}
    assert len(run.results) == 28, run.output
    assert failed == DCI_SPEC_NEEDS_CORE_CHANGE, {n: run.errors.get(n) for n in failed}


def test_optional_policy_still_refuses_the_kit_s_invalid_signature(
    kit: Path, tmp_path: Path
) -> None:
    """With DCI_SIGNATURE_VALIDATION_ENABLED the kit sends a real-looking but invalid
    signature: refused (401 err.signature.invalid) although the client's policy is optional."""
    with dci_suites.ibr_for_kit(tmp_path, policy="optional") as (url, token, receiver_id):
        env = dci_suites.kit_env(
            base_url=url,
            token=token,
            receiver_id=receiver_id,
            spec=dci_suites.BUNDLED_SPEC,
            callback_port=dci_suites.free_port(),
        )
        env["DCI_SIGNATURE_VALIDATION_ENABLED"] = "true"
        run = dci_suites.run_cucumber(kit, ["--tags", "@profile=sr-registry and @signature"], env)
    assert list(run.results.values()) == ["passed"], (run.results, run.errors)
