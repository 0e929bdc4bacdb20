"""Fuzzing against the real IBR: the whole profile passes it (its run time is a printed figure),
and each fuzzing-only broken IBR of fuzz_mutants.py is caught."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from ibr_conformance.config import RunConfig
from ibr_conformance.phases import Phase
from ibr_conformance.results import Outcome

from .conftest import RunSuite
from .fuzz_mutants import FUZZ_CATALOGUE, proxied
from .real_ibr import RealIbr
from .test_hostile_values import CHECKS as HOSTILE_CHECKS

_CASES = re.compile(r"fuzzing ibr: (\d+) cases")
_FUZZING_CHECK = "ibr_operations_survive_schema_driven_fuzzing"


@pytest.mark.slow
# About 2 minutes on an idle 2-core machine; the limit only stops a hang under a loaded one.
@pytest.mark.timeout(900)
def test_real_ibr_passes_the_whole_profile_with_fuzzing(
    ibr: RealIbr, run_suite: RunSuite, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, schema-driven fuzzing finds a crash or a spec violation in our reference
    IBR (or a fuzzing expectation contradicts spec/): a vendor would see the same false or true
    failure. The run time is the issue's "IBR profile with the CI seed" figure, never asserted."""
    caplog.set_level(logging.INFO, logger="ibr_conformance.checks.fuzzing")
    final = run_suite(ibr.url, phases=tuple(Phase))
    errors = [(r.check, r.reason[:300]) for r in final.results if r.outcome is Outcome.ERROR]
    assert errors == []
    failures = [
        (r.check, [(f.requirement_ids, f.title, f.message[:300], _answers(f)) for f in r.failures])
        for r in final.results
        if r.failures
    ]
    assert failures == []
    fuzzed = [r for r in final.results if r.phase is Phase.FUZZING]
    assert {(r.check, r.outcome) for r in fuzzed} == {
        (check, Outcome.PASS) for check in (_FUZZING_CHECK, *HOSTILE_CHECKS)
    }
    cases = [int(m.group(1)) for m in map(_CASES.search, caplog.messages) if m]
    assert len(cases) == 1
    assert cases[0] > 0
    print(
        json.dumps(
            {
                "profile": final.info.profile,
                "seed": final.info.seed,
                "fuzz_max_examples": RunConfig().fuzz_max_examples,
                "seconds": round(final.duration_ms / 1000, 1),
                "checks": len(final.results),
                "fuzz_cases": cases[0],
            }
        )
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzzing_only_mutants_are_detected(
    ibr: RealIbr, suite_key: dict[str, Any], run_suite: RunSuite
) -> None:
    """If this fails, the fuzzing phase lets an IBR through that answers generated requests
    with crashes, undocumented statuses or media types, or ACKs that break the ACK schema."""
    detected: list[tuple[Any, ...]] = []
    missed: list[tuple[Any, ...]] = []
    for fuzz_mutant in FUZZ_CATALOGUE:
        mutant = fuzz_mutant.mutant
        with proxied(ibr.url, suite_key, fuzz_mutant) as url:
            final = run_suite(
                url,
                phases=(Phase.FUZZING,),
                checks=(_FUZZING_CHECK,),
                fuzz_operations=(fuzz_mutant.operation,),
            )
        failed = {rid for r in final.results for f in r.failures for rid in f.requirement_ids}
        errors = [r.reason[:200] for r in final.results if r.reason]
        (detected if mutant.requirement in failed else missed).append(
            (mutant.name, mutant.requirement, sorted(failed), errors)
        )
    print(
        json.dumps(
            {
                "fuzz_mutants": len(FUZZ_CATALOGUE),
                "detected": len(detected),
                "detection_rate": round(len(detected) / len(FUZZ_CATALOGUE), 3),
                "missed": missed,
            }
        )
    )
    assert len(FUZZ_CATALOGUE) >= 3
    assert missed == []


def _answers(failure: Any) -> list[tuple[int | None, str]]:
    """What the target answered in a failure's evidence (status, body excerpt), for the log."""
    return [(e.status, str(e.response_body)[:400]) for e in failure.evidence]
