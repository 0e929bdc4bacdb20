"""The hostile-value catalogue (fuzzing phase) passes the real IBR and fails an IBR that lets
such values through, so a vendor's IBR gets them whether or not the fuzzer would."""

from __future__ import annotations

from typing import Any

import pytest

from ibr_conformance.events import RunFinished
from ibr_conformance.phases import Phase
from ibr_conformance.results import Outcome

from .conftest import RunSuite
from .mutants import Call, Json, Mutant, ProxyState, build_proxy
from .real_ibr import RealIbr
from .servers import free_port, serve

CHECKS = ("hostile_values_are_refused_cleanly", "a_list_far_over_max_items_is_refused")


def _run(ibr: RealIbr, run_suite: RunSuite) -> RunFinished:
    return run_suite(ibr.url, phases=(Phase.FUZZING,), checks=CHECKS)


def test_the_real_ibr_refuses_every_hostile_value_cleanly(
    ibr: RealIbr, run_suite: RunSuite
) -> None:
    """If this fails, the reference IBR answers a hostile value with a 5xx, accepts it, or
    echoes it; or the catalogue gives vendors false failures."""
    final = _run(ibr, run_suite)
    assert [r.check for r in final.results] == list(CHECKS)
    problems = [(r.check, [f.message for f in r.failures][:3]) for r in final.results]
    assert all(r.outcome is Outcome.PASS for r in final.results), problems
    assert len(final.results[0].evidence) >= 60  # every value, place and token case was sent


def _crash_on_nan(call: Call, status: int, body: Json) -> tuple[int, Json]:
    if b"NaN" in call.raw:
        return 500, {"errors": [{"code": "err.internal", "message": "ValueError"}]}
    return status, body


def _echo_the_body(call: Call, status: int, body: Json) -> tuple[int, Json]:
    if status == 400 and isinstance(body, dict):
        error = body.get("message", {}).get("error", {})
        error["message"] = f"{error.get('message', '')}: {call.raw[:300].decode(errors='replace')}"
    return status, body


@pytest.mark.parametrize(
    ("mutant", "requirement"),
    [
        (Mutant("crashes_on_nan", "IBR-ERR-001", response=_crash_on_nan), "IBR-ERR-001"),
        (Mutant("echoes_the_body", "IBR-ERR-003", response=_echo_the_body), "IBR-ERR-003"),
    ],
    ids=lambda value: value.name if isinstance(value, Mutant) else value,
)
def test_an_ibr_that_crashes_on_or_echoes_hostile_values_fails(
    ibr: RealIbr, suite_key: dict[str, Any], run_suite: RunSuite, mutant: Mutant, requirement: str
) -> None:
    """If this fails, an IBR answering NaN with a 500, or echoing the body in its errors, passes
    the catalogue."""
    port = free_port()
    state = ProxyState(upstream=ibr.url, suite_key=suite_key)
    app = build_proxy(state, mutant, lambda: f"http://127.0.0.1:{port}")
    with serve(app, port=port) as url:
        final = run_suite(url, phases=(Phase.FUZZING,), checks=CHECKS[:1])
    failed = {rid for r in final.results for f in r.failures for rid in f.requirement_ids}
    assert requirement in failed, failed
