"""The Arazzo runner over spec/workflows, with a fake driver (no network)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ibr_conformance.arazzo import (
    ArazzoError,
    Operation,
    StepResult,
    Workflow,
    load_workflows,
    operation_index,
    resolve_pointer,
    run_workflow,
)
from ibr_protocol import load_openapi, spec_dir


class FakeDriver:
    """Answers every request ACK / succ and delivers every callback at once."""

    def __init__(self, *, callbacks: bool = True) -> None:
        self.sent: list[str] = []
        self.callbacks = callbacks

    def input(self, workflow: Workflow, name: str, steps: Mapping[str, StepResult]) -> Any:
        return None if name.startswith("step:") else {"input": name}

    def send(self, operation: Operation, body: Any) -> tuple[int | None, Any]:
        self.sent.append(operation.operation_id)
        return 200, {
            "access_token": "t",
            "header": {"status": "succ"},
            "message": {
                "ack_status": "ACK",
                "correlation_id": "c-1",
                "enrolled_response": [{"enrolled_status": "yes"}],
            },
        }

    def await_callback(
        self, operation: Operation, previous: StepResult | None, steps: Mapping[str, StepResult]
    ) -> Any | None:
        if not self.callbacks:
            return None
        return {
            "message": {
                "search_response": ["r"],
                "subscribe_response": [{"subscriptions": [{"code": "S1"}]}],
            }
        }

    def callback_problems(self, operation: Operation, body: Any) -> list[str]:
        return []


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return {w.workflow_id: w for w in load_workflows(spec_dir() / "workflows")}


def _run(wf: Workflow, driver: FakeDriver) -> tuple[list[StepResult], dict[str, Any]]:
    return run_workflow(
        wf,
        index=operation_index(load_openapi()),
        driver=driver,  # type: ignore[arg-type]
        is_callback=lambda s: s.get("x-actor") == "IBR",
    )


def test_every_workflow_of_the_spec_has_a_plan(workflows: dict[str, Workflow]) -> None:
    """If this fails, a process of spec/workflows is not exercised by the suite."""
    from ibr_conformance.checks.workflows import PLANS

    assert len(workflows) >= 5
    assert set(workflows) <= set(PLANS)


def test_runner_resolves_operations_criteria_and_outputs(workflows: dict[str, Workflow]) -> None:
    """If this fails, workflow steps go to the wrong operation or outputs are lost."""
    driver = FakeDriver()
    results, outputs = _run(workflows["enrolledCheck"], driver)
    assert driver.sent == ["post_oauth2_client_token", "post_reg_enrolled"]
    assert [r.failures for r in results] == [[], []]
    assert outputs["enrolled"] == "yes"
    _, outputs = _run(workflows["statusChangeNotification"], FakeDriver())
    assert outputs["subscriptionCode"] == "S1"


def test_missing_callback_fails_the_step_and_stops(workflows: dict[str, Workflow]) -> None:
    """If this fails, a lost callback would pass as a completed process."""
    results, _ = _run(workflows["asyncSearch"], FakeDriver(callbacks=False))
    assert [r.step_id for r in results] == ["search", "onSearch"]
    assert results[-1].failures == ["no post_reg_on-search callback arrived (/registry/on-search)"]


def test_unsupported_constructs_fail_loudly() -> None:
    """If this fails, a workflow the runner cannot read would silently pass."""
    wf = Workflow("x.arazzo.yaml", "w", "", ({"stepId": "s", "operationId": "nope"},), {})
    with pytest.raises(ArazzoError, match="unknown operationId 'nope'"):
        _run(wf, FakeDriver())
    assert resolve_pointer({"a": [{"b~/c": 1}]}, "/a/0/b~0~1c") == 1
