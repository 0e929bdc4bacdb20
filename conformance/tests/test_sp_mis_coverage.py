"""The sp-mis profile has a check (or a manual classification) for every MUST binding an SP-MIS;
the receiver, key and encryption checks pass on the reference SP-MIS and catch each mutant of
tests/sp_mis_receiver_mutants.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import ibr_conformance.checks.spmis_keys as keys_checks
import ibr_conformance.checks.spmis_receiver as receiver_checks
from ibr_conformance.config import RunConfig
from ibr_conformance.coverage import uncovered_musts
from ibr_conformance.events import RunFinished
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.results import Outcome
from ibr_conformance.runner import run
from ibr_protocol import generate_encryption_key

from .reference_sp_mis import (
    IBR_CLIENT_SECRET,
    MOCK_CLIENT_SECRET,
    SP_MIS_ID,
    ReferenceSpMis,
    reference_sp_mis,
)
from .servers import free_port, serve
from .sp_mis_mutants import build_forwarder
from .sp_mis_receiver_mutants import CATALOGUE, ReceiverMutant, rewriting_answers

_NOT_RUN = (Outcome.SKIP, Outcome.ERROR)

NEW_CHECKS = sorted(
    spec.name
    for spec in REGISTRY
    if spec.func.__module__ in (receiver_checks.__name__, keys_checks.__name__)
)


def test_every_must_of_the_sp_mis_profile_has_a_check(catalogue: RequirementCatalogue) -> None:
    """If this fails, a MUST binding an SP-MIS is neither checked nor classified manual: the
    sp-mis profile could certify an SP-MIS that breaks it."""
    assert [r.id for r in uncovered_musts(catalogue, Profile.SP_MIS)] == []


class _Current:
    mutant: ReceiverMutant | None = None

    def get(self) -> ReceiverMutant | None:
        return self.mutant

    def request(self, path: str, body: Any) -> Any:
        fn = self.mutant.request if self.mutant else None
        return fn(path, body) if fn else body


@pytest.fixture(scope="module")
def proxied_sp_mis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ReferenceSpMis, str, _Current]]:
    """The reference SP-MIS with an encryption key, behind the mutants' proxies."""
    workdir = tmp_path_factory.mktemp("sp-mis-coverage")
    enc_key = workdir / "sp-mis-enc.jwk.json"
    enc_key.write_text(json.dumps(generate_encryption_key("conf-sp-mis-enc-1")))
    current = _Current()
    to_ibr_port = free_port()
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        env.setenv("IBR_CLIENT_DECRYPTION_KEY_FILE", str(enc_key))
        sp_mis = stack.enter_context(reference_sp_mis(workdir, ibr_port=to_ibr_port))
        mock = f"http://127.0.0.1:{sp_mis.mock_ibr_port}"
        stack.enter_context(
            serve(build_forwarder(lambda: mock, current.request, on="request"), port=to_ibr_port)
        )
        front_app = rewriting_answers(
            build_forwarder(lambda: sp_mis.url, None, on="answer"), current.get
        )
        front = stack.enter_context(serve(front_app))
        yield sp_mis, front, current


def _config(sp_mis: ReferenceSpMis, base_url: str, key_file: Path, **extra: Any) -> RunConfig:
    return RunConfig.model_validate(
        {
            "profile": "sp-mis",
            "base_url": base_url,
            "trigger_url": f"{base_url}/trigger",
            "sp_mis_jwks": str(sp_mis.jwks_file),
            "mock_ibr_port": sp_mis.mock_ibr_port,
            "mock_client_id": SP_MIS_ID,
            "mock_client_secret": MOCK_CLIENT_SECRET,
            "sender_id": SP_MIS_ID,
            "client_id": "IBR",
            "client_secret": IBR_CLIENT_SECRET,
            "signing_key": str(key_file),
            "callback_timeout": 5.0,
            **extra,
        }
    )


def _failed(final: RunFinished) -> set[str]:
    return {rid for r in final.results for f in r.failures for rid in f.requirement_ids}


@pytest.mark.slow
def test_new_sp_mis_checks_pass_on_the_reference_sp_mis(
    proxied_sp_mis: tuple[ReferenceSpMis, str, _Current],
    suite_key_file: Path,
    catalogue: RequirementCatalogue,
) -> None:
    """If this fails, a receiver/key/encryption check reports the reference SP-MIS broken: a
    regression of the SP-MIS, or a check that fails a correct one."""
    sp_mis, front, current = proxied_sp_mis
    current.mutant = None
    final = run(_config(sp_mis, front, suite_key_file, checks=NEW_CHECKS), catalogue=catalogue)
    assert {r.check for r in final.results} == set(NEW_CHECKS)
    not_run = {r.check: r.reason[:300] for r in final.results if r.outcome in _NOT_RUN}
    assert not_run == {}
    failed = {r.check: [f.message[:300] for f in r.failures] for r in final.results if r.failures}
    assert failed == {}, json.dumps(failed, indent=1)


@pytest.mark.slow
def test_receiver_mutants_are_detected(
    proxied_sp_mis: tuple[ReferenceSpMis, str, _Current],
    suite_key_file: Path,
    catalogue: RequirementCatalogue,
) -> None:
    """If this fails, a receiver/key/encryption check cannot fail: an SP-MIS breaking its
    requirement would be certified."""
    sp_mis, front, current = proxied_sp_mis
    missed = []
    for mutant in CATALOGUE:
        current.mutant = mutant
        final = run(
            _config(sp_mis, front, suite_key_file, checks=[mutant.check]), catalogue=catalogue
        )
        if mutant.requirement not in _failed(final):
            outcomes = [(r.outcome.value, r.reason[:200]) for r in final.results]
            missed.append((mutant.name, mutant.requirement, sorted(_failed(final)), outcomes))
    current.mutant = None
    print(json.dumps({"receiver_mutants": len(CATALOGUE), "missed": missed}))
    assert {m.check for m in CATALOGUE} == set(NEW_CHECKS)
    assert missed == []
