"""A small Arazzo 1.0 runner for the process documents of spec/workflows/.

Steps are resolved by `operationId` (or `operationPath`) in spec/openapi.yaml. A step whose
`x-actor` is the system under test is a *callback*: the runner waits for it on the built-in
receiver, validates its body against the operation's request schema and answers ACK. Every other
step is sent by the suite. Supported runtime expressions: `$inputs.<name>`,
`$steps.<id>.outputs.<name>`, `$response.body#<pointer>`, `$request.body#<pointer>`,
`$statusCode`; success criteria: `simple` (`$statusCode == 200`) and `jsonpath` with a dotted
path and `==` (`$.message.ack_status == 'ACK'`). Anything else raises `ArazzoError` naming the
step, so a new workflow construct fails loudly instead of passing silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ibr_conformance.errors import ConformanceError

__all__ = [
    "ArazzoError",
    "Operation",
    "StepResult",
    "Workflow",
    "WorkflowDriver",
    "load_workflows",
    "operation_index",
    "resolve_pointer",
    "run_workflow",
]


class ArazzoError(ConformanceError):
    """A workflow uses a construct the runner does not support, or references something absent."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    path: str
    method: str
    request_schema: str | None
    """Schema name for `ibr_protocol.validate` (e.g. `api/envelope_search_response`)."""


@dataclass(frozen=True)
class Workflow:
    source: str
    workflow_id: str
    summary: str
    steps: tuple[Mapping[str, Any], ...]
    outputs: Mapping[str, str]


@dataclass
class StepResult:
    step_id: str
    operation: Operation
    callback: bool
    status: int | None = None
    request_body: Any = None
    response_body: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: str = ""


class WorkflowDriver(Protocol):
    """What the runner needs from the suite: send a request, await a callback, build inputs."""

    def input(self, workflow: Workflow, name: str, steps: Mapping[str, StepResult]) -> Any: ...

    def send(self, operation: Operation, body: Any) -> tuple[int | None, Any]: ...

    def await_callback(
        self, operation: Operation, previous: StepResult | None, steps: Mapping[str, StepResult]
    ) -> Any | None: ...

    def callback_problems(self, operation: Operation, body: Any) -> list[str]: ...


def _schema_name(ref: str) -> str:
    # "./schemas/api/envelope_search_request.schema.json" -> "api/envelope_search_request"
    return ref.split("schemas/", 1)[-1].removesuffix(".schema.json")


def operation_index(openapi: Mapping[str, Any]) -> dict[str, Operation]:
    """operationId -> Operation, for paths and webhooks."""
    out: dict[str, Operation] = {}
    groups = [("paths", openapi.get("paths", {})), ("webhooks", openapi.get("webhooks", {}))]
    for _, group in groups:
        for path, item in group.items():
            for method, op in item.items():
                if not isinstance(op, Mapping):
                    continue
                content = (op.get("requestBody") or {}).get("content", {})
                ref = (content.get("application/json") or {}).get("schema", {}).get("$ref")
                op_id = op.get("operationId") or f"webhook:{path}"
                out[op_id] = Operation(
                    op_id, path, method.upper(), _schema_name(ref) if ref else None
                )
    return out


def load_workflows(folder: Path) -> list[Workflow]:
    """Every workflow of every `*.arazzo.yaml` in `folder`, in file order."""
    found = []
    for path in sorted(folder.glob("*.arazzo.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for wf in doc.get("workflows", []):
            found.append(
                Workflow(
                    source=path.name,
                    workflow_id=wf["workflowId"],
                    summary=wf.get("summary", ""),
                    steps=tuple(wf.get("steps", [])),
                    outputs=wf.get("outputs", {}),
                )
            )
    return found


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 JSON Pointer; raises `KeyError` when a member is absent."""
    if pointer in ("", "/"):
        return document
    value = document
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            value = value[int(token)]
        elif isinstance(value, Mapping):
            value = value[token]
        else:
            raise KeyError(pointer)
    return value


def _operation(step: Mapping[str, Any], index: Mapping[str, Operation], wf: Workflow) -> Operation:
    if "operationId" in step:
        op_id = str(step["operationId"]).rsplit(".", 1)[-1]
        if op_id not in index:
            raise ArazzoError(f"{wf.source} {step['stepId']}: unknown operationId {op_id!r}")
        return index[op_id]
    if "operationPath" in step:
        pointer = str(step["operationPath"]).split("#", 1)[1]
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
        if len(parts) != 3 or parts[0] != "paths":
            raise ArazzoError(f"{wf.source} {step['stepId']}: unsupported operationPath {pointer}")
        for op in index.values():
            if op.path == parts[1] and op.method == parts[2].upper():
                return op
        raise ArazzoError(f"{wf.source} {step['stepId']}: no operation at {pointer}")
    raise ArazzoError(f"{wf.source} {step['stepId']}: a step needs operationId or operationPath")


_EQ = re.compile(r"^\s*(\S+)\s*==\s*(.+?)\s*$")


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in ("'", '"'):
        return text[1:-1]
    return yaml.safe_load(text)


def _dotted(document: Any, path: str) -> Any:
    # "$.message.enrolled_response[0].status" -> JSON pointer
    pointer = re.sub(r"\[(\d+)\]", r".\1", path.removeprefix("$")).replace(".", "/")
    return resolve_pointer(document, pointer)


class _Evaluator:
    def __init__(
        self, wf: Workflow, steps: Mapping[str, StepResult], driver: WorkflowDriver
    ) -> None:
        self.wf, self.steps, self.driver = wf, steps, driver

    def value(self, expr: Any, current: StepResult | None = None) -> Any:
        if not isinstance(expr, str) or not expr.startswith("$"):
            return expr
        if expr.startswith("$inputs."):
            return self.driver.input(self.wf, expr.removeprefix("$inputs."), self.steps)
        if expr.startswith("$steps."):
            step_id, _, rest = expr.removeprefix("$steps.").partition(".outputs.")
            step = self.steps.get(step_id)
            return step.outputs.get(rest) if step else None
        if expr == "$statusCode" and current is not None:
            return current.status
        for prefix, attr in (
            ("$response.body", "response_body"),
            ("$request.body", "request_body"),
        ):
            if expr.startswith(prefix) and current is not None:
                body = getattr(current, attr)
                pointer = expr.removeprefix(prefix).removeprefix("#")
                try:
                    return resolve_pointer(body, pointer)
                except (KeyError, IndexError, ValueError, TypeError):
                    return None
        raise ArazzoError(f"{self.wf.source}: unsupported runtime expression {expr!r}")

    def criterion(self, crit: Mapping[str, Any], current: StepResult) -> bool:
        kind = crit.get("type", "simple")
        match = _EQ.match(str(crit.get("condition", "")))
        if not match:
            raise ArazzoError(f"{self.wf.source}: unsupported condition {crit.get('condition')!r}")
        left, right = match.group(1), _literal(match.group(2))
        if kind == "simple":
            return bool(self.value(left, current) == right)
        if kind == "jsonpath":
            context = self.value(crit.get("context", "$response.body"), current)
            try:
                return bool(_dotted(context, left) == right)
            except (KeyError, IndexError, ValueError, TypeError):
                return False
        raise ArazzoError(f"{self.wf.source}: unsupported criterion type {kind!r}")


def run_workflow(
    wf: Workflow,
    *,
    index: Mapping[str, Operation],
    driver: WorkflowDriver,
    is_callback: Callable[[Mapping[str, Any]], bool],
) -> tuple[list[StepResult], dict[str, Any]]:
    """Execute `wf`; returns every step's result and the workflow outputs.

    `is_callback(step)` says which steps the system under test sends (the runner awaits them).
    A step failure stops the workflow: later steps depend on it.
    """
    steps: dict[str, StepResult] = {}
    results: list[StepResult] = []
    ev = _Evaluator(wf, steps, driver)
    previous: StepResult | None = None
    for step in wf.steps:
        op = _operation(step, index, wf)
        result = StepResult(step_id=step["stepId"], operation=op, callback=is_callback(step))
        steps[result.step_id] = result
        results.append(result)
        if result.callback:
            body = driver.await_callback(op, previous, steps)
            if body is None:
                result.failures.append(f"no {op.operation_id} callback arrived ({op.path})")
                break
            result.request_body, result.status = body, 200
            result.failures.extend(driver.callback_problems(op, body))
        else:
            payload_expr = (step.get("requestBody") or {}).get("payload")
            if payload_expr is None and op.operation_id != "post_oauth2_client_token":
                payload = driver.input(wf, f"step:{result.step_id}", steps)
                if payload is None:
                    result.skipped = "the workflow gives no request body for this optional step"
                    continue
            else:
                payload = ev.value(payload_expr)
            result.request_body = payload
            result.status, result.response_body = driver.send(op, payload)
        for crit in step.get("successCriteria", []):
            if not ev.criterion(crit, result):
                result.failures.append(f"successCriteria not met: {crit.get('condition')}")
        for name, expr in (step.get("outputs") or {}).items():
            result.outputs[name] = ev.value(expr, result)
        if result.failures:
            break
        previous = result
    outputs = {name: ev.value(expr) for name, expr in wf.outputs.items()}
    return results, outputs
