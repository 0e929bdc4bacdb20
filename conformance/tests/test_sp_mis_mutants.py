"""The sp-mis profile catches each deliberately broken SP-MIS (tests/sp_mis_mutants.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ibr_conformance.config import RunConfig
from ibr_conformance.requirements import RequirementCatalogue
from ibr_conformance.runner import run

from .reference_sp_mis import (
    IBR_CLIENT_SECRET,
    MOCK_CLIENT_SECRET,
    SP_MIS_ID,
    ReferenceSpMis,
    reference_sp_mis,
)
from .servers import free_port, serve
from .sp_mis_mutants import CATALOGUE, Mutator, SpMisMutant, build_forwarder


class _Current:
    """The mutant the shared proxies apply now (one SP-MIS serves the whole catalogue)."""

    mutant: SpMisMutant | None = None

    def answer(self, path: str, body: object) -> object:
        fn = self.mutant.answer if self.mutant else None
        return fn(path, body) if fn else body

    def request(self, path: str, body: object) -> object:
        fn = self.mutant.request if self.mutant else None
        return fn(path, body) if fn else body

    def answer_headers(self, path: str, headers: dict[str, str]) -> dict[str, str]:
        fn = self.mutant.answer_headers if self.mutant else None
        return fn(path, headers) if fn else headers


@pytest.fixture(scope="module")
def proxied_sp_mis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ReferenceSpMis, str, _Current]]:
    current = _Current()
    to_ibr_port, to_sp_mis_port = free_port(), free_port()
    with ExitStack() as stack:
        sp_mis = stack.enter_context(
            reference_sp_mis(tmp_path_factory.mktemp("sp-mis-mutants"), ibr_port=to_ibr_port)
        )
        mock = f"http://127.0.0.1:{sp_mis.mock_ibr_port}"
        request: Mutator = current.request
        answer: Mutator = current.answer
        stack.enter_context(
            serve(build_forwarder(lambda: mock, request, on="request"), port=to_ibr_port)
        )
        front = stack.enter_context(
            serve(
                build_forwarder(
                    lambda: sp_mis.url,
                    answer,
                    on="answer",
                    mutate_headers=current.answer_headers,
                ),
                port=to_sp_mis_port,
            )
        )
        yield sp_mis, front, current


@pytest.mark.slow
def test_sp_mis_mutant_catalogue_is_detected(
    proxied_sp_mis: tuple[ReferenceSpMis, str, _Current],
    suite_key_file: Path,
    catalogue: RequirementCatalogue,
) -> None:
    """If this fails, the sp-mis profile lets a broken SP-MIS pass: a vendor's SP-MIS could be
    certified while ACKing bad callbacks or sending requests that break the spec."""
    sp_mis, front, current = proxied_sp_mis
    detected, missed = [], []
    for mutant in CATALOGUE:
        current.mutant = mutant
        config = RunConfig.model_validate(
            {
                "profile": "sp-mis",
                "base_url": front,
                "trigger_url": f"{front}/trigger",
                "sp_mis_jwks": str(sp_mis.jwks_file),
                "mock_ibr_port": sp_mis.mock_ibr_port,
                "mock_client_id": SP_MIS_ID,
                "mock_client_secret": MOCK_CLIENT_SECRET,
                "client_secret": IBR_CLIENT_SECRET,
                "sender_id": SP_MIS_ID,
                "signing_key": str(suite_key_file),
                "callback_timeout": 5.0,
                "checks": [mutant.check],
            }
        )
        final = run(config, catalogue=catalogue)
        failed = {rid for r in final.results for f in r.failures for rid in f.requirement_ids}
        (detected if mutant.requirement in failed else missed).append(
            (mutant.name, mutant.requirement, sorted(failed))
        )
    rate = len(detected) / len(CATALOGUE)
    print(
        json.dumps(
            {
                "sp_mis_mutants": len(CATALOGUE),
                "detected": len(detected),
                "detection_rate": round(rate, 3),
                "missed": missed,
            }
        )
    )
    assert len(CATALOGUE) >= 8
    assert rate == 1.0, missed
