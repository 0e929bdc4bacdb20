"""The process scenarios, driven by the Arazzo documents of spec/workflows/ (IBR profile).

One check per workflow. The suite plays the SP-MIS: it builds each workflow input (a fresh,
signed envelope), sends the SP-MIS steps and awaits the IBR's callback steps on the built-in
receiver, where each callback body is validated against spec/ (schema, action, transaction and
correlation ids, signature, message_id). Outcomes are checked after the run (e.g. the enrolled
check of a published person says `yes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ibr_conformance.arazzo import (
    Operation,
    StepResult,
    Workflow,
    load_workflows,
    operation_index,
    run_workflow,
)
from ibr_conformance.callbacks import ReceivedCallback
from ibr_conformance.checks import probes
from ibr_conformance.checks.data import programme_name, publish
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY, CheckSpec
from ibr_conformance.results import Exchange, Failure
from ibr_protocol import IbrProtocolError, Jwks, load_openapi, spec_dir, verify_envelope

_CALLBACK_OF = {
    "post_reg_search": "post_reg_on-search",
    "post_reg_subscribe": "post_reg_on-subscribe",
    "post_reg_unsubscribe": "post_reg_on-unsubscribe",
    "post_reg_txnstatus": "post_reg_on-txnstatus",
}
_ACTION_OF = {
    "post_reg_on-search": "on-search",
    "post_reg_on-subscribe": "on-subscribe",
    "post_reg_on-unsubscribe": "on-unsubscribe",
    "post_reg_on-txnstatus": "txn-on-status",
    "post_reg_notify": "notify",
}
_CALLBACK_CHECKS = ("IBR-ENV-001", "IBR-HDR-003", "IBR-HDR-007", "IBR-SIG-005", "IBR-CB-005")


@dataclass(frozen=True)
class WorkflowPlan:
    """How the suite plays one workflow: what it verifies and how it builds the inputs."""

    requirements: tuple[str, ...]
    """The first id is blamed for a broken step; callback problems name their own ids."""
    capability: str | None
    inputs: Callable[[WorkflowDriver, str], Any]
    after: Callable[[WorkflowDriver, dict[str, Any]], list[str]] | None = None
    """Checks on the workflow outputs; returns problems for the first requirement."""


class WorkflowDriver:
    """Implements `arazzo.WorkflowDriver` over the target and the callback receiver."""

    def __init__(self, ctx: CheckContext, index: Mapping[str, Operation]) -> None:
        self.ctx, self.index = ctx, index
        self.rx = ctx.require_receiver()
        self.state: dict[str, Any] = {}
        self.inputs: dict[str, Any] = {}
        self.steps: Mapping[str, StepResult] = {}
        self.last_async: tuple[str, str] | None = None
        """(transaction_id, correlation_id of the ACK) of the last async request."""
        self.callbacks: list[ReceivedCallback] = []
        self._jwks: Jwks | None = None

    # -- inputs ---------------------------------------------------------------------------

    def input(self, workflow: Workflow, name: str, steps: Mapping[str, StepResult]) -> Any:
        self.steps = steps
        if name not in self.inputs:
            self.inputs[name] = PLANS[workflow.workflow_id].inputs(self, name)
        return self.inputs[name]

    def envelope(self, action: str, message: dict[str, Any], op_id: str | None = None) -> Any:
        uri = None
        if op_id in _CALLBACK_OF:
            uri = f"{self.rx.url}{self.index[_CALLBACK_OF[op_id]].path}"
        return self.ctx.target.envelope(action, message, sender_uri=uri)

    # -- requests and callbacks -----------------------------------------------------------

    def send(self, operation: Operation, body: Any) -> tuple[int | None, Any]:
        if operation.operation_id == "post_oauth2_client_token":
            token = self.ctx.target.access_token()
            return (200 if token else None), {"access_token": token}
        url = f"{self.ctx.config.root_url()}{operation.path}"
        ex = self.ctx.target.post_url(url, body, note=f"workflow step {operation.operation_id}")
        header = body.get("header", {}) if isinstance(body, Mapping) else {}
        if header.get("sender_uri"):
            ack = probes.ack_message(ex) or {}
            self.last_async = (
                str(body["message"].get("transaction_id")),
                str(ack.get("correlation_id", "")),
            )
        return ex.status, ex.response_body

    def await_callback(
        self, operation: Operation, previous: StepResult | None, steps: Mapping[str, StepResult]
    ) -> Any | None:
        codes = {
            str(v) for s in steps.values() for k, v in s.outputs.items() if k in ("code",) and v
        }
        txn = self.last_async[0] if self.last_async else None

        def mine(cb: ReceivedCallback) -> bool:
            msg = cb.body.get("message") if isinstance(cb.body, Mapping) else None
            if not isinstance(msg, Mapping):
                return False
            if operation.operation_id == "post_reg_notify":
                events = msg.get("notify_event") or []
                return cb.path.endswith("/notify") and any(
                    isinstance(e, Mapping) and e.get("subscription_code") in codes for e in events
                )
            return cb.path == operation.path and msg.get("transaction_id") == txn

        got = self.rx.wait_for(mine, timeout=self.ctx.config.callback_timeout, settle=0.3)
        self.callbacks.extend(got)
        return got[0].body if got else None

    def callback_problems(self, operation: Operation, body: Any) -> list[str]:
        out = []
        if operation.request_schema:
            for problem in probes.schema_problems(body, operation.request_schema) or []:
                out.append(f"IBR-ENV-001: callback breaks {operation.request_schema}: {problem}")
        header = body.get("header", {}) if isinstance(body, Mapping) else {}
        want = _ACTION_OF.get(operation.operation_id)
        if want and header.get("action") != want:
            out.append(
                f"IBR-HDR-003: callback header.action {header.get('action')!r}, want {want!r}"
            )
        same_id = [
            c
            for c in self.rx.received()
            if isinstance(c.body, Mapping)
            and c.body.get("header", {}).get("message_id") == header.get("message_id")
        ]
        if len(same_id) > 1:
            out.append(f"IBR-HDR-007: {len(same_id)} callbacks share message_id")
        if operation.operation_id != "post_reg_notify" and self.last_async:
            _txn, correlation = self.last_async
            msg = body.get("message", {})
            if msg.get("correlation_id") != correlation:
                out.append(
                    f"IBR-CB-005: callback correlation_id {msg.get('correlation_id')!r} "
                    f"!= ACK's {correlation!r}"
                )
        out.extend(self._signature_problems(body))
        return out

    def _signature_problems(self, body: Any) -> list[str]:
        if "signing" not in self.ctx.config.capabilities:
            return []
        if not isinstance(body, Mapping) or not body.get("signature"):
            return ["IBR-SIG-005: callback is not signed"]
        if self._jwks is None:
            cfg = self.ctx.config
            url = cfg.target_jwks_url or f"{cfg.root_url()}/.well-known/jwks.json"
            self._jwks = Jwks.from_dict(self.ctx.target.get_json(url))
        try:
            verify_envelope(dict(body), self._jwks.get)
        except IbrProtocolError as exc:
            return [f"IBR-SIG-005: callback signature does not verify: {exc}"]
        return []


# -- the inputs of each workflow -------------------------------------------------------------


def _enrolled_inputs(d: WorkflowDriver, name: str) -> Any:
    ident = d.state.setdefault("ident", probes.fresh_id())
    if "published" not in d.state:
        d.state["published"] = publish(d.ctx, [probes.beneficiary(ident, programme_name(d.ctx))])
    return d.envelope("search", probes.enrolled_request(ident))


def _enrolled_after(d: WorkflowDriver, outputs: dict[str, Any]) -> list[str]:
    got = outputs.get("enrolled")
    return [] if got == "yes" else [f"a published person is enrolled_status {got!r}, not 'yes'"]


def _publication_inputs(d: WorkflowDriver, name: str) -> Any:
    ident = d.state.setdefault("ident", probes.fresh_id())
    programme = programme_name(d.ctx)
    if name == "enrolments":
        message = probes.enrollment_updates_request(
            [probes.beneficiary(ident, programme, reference_id="e1")]
        )
        d.state["enrolment_txn"] = message["transaction_id"]
        return d.envelope("notify", message)
    if name == "benefits":
        record = probes.beneficiary(ident, programme, reference_id="u1")
        benefit = dict(record["programme_identifier"][0]["benefits"][0])
        benefit.update(benefit_id=f"B2-{ident}", benefit_date="2024-06-02")
        record["programme_identifier"][0]["benefits"].append(benefit)
        message = probes.enrollment_updates_request([record], receipt_type="update")
        return d.envelope("notify", message)
    if name == "step:checkReceipt":
        asked = probes.txn_status_request(d.state["enrolment_txn"], txn_type="receipt")
        return d.envelope("txn-status", asked)
    raise KeyError(name)


def _publication_after(d: WorkflowDriver, outputs: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("enrolmentResults", "benefitResults"):
        statuses = [r.get("status") for r in outputs.get(key) or [] if isinstance(r, Mapping)]
        if statuses != ["succ"]:
            problems.append(f"{key}: item statuses {statuses}, expected ['succ']")
    ex = d.ctx.target.send(
        "sync/search", d.ctx.target.envelope("search", probes.search_request(d.state["ident"]))
    )
    benefits = [
        b
        for r in probes.records(ex)
        for p in r.get("programme_identifier", []) or []
        for b in p.get("benefits", []) or []
    ]
    if len(benefits) != 2:
        problems.append(f"search after publication shows {len(benefits)} benefits, expected 2")
    return problems


def _status_change_inputs(d: WorkflowDriver, name: str) -> Any:
    programme = programme_name(d.ctx)
    ident = d.state.setdefault("ident", probes.fresh_id())
    if name == "subscribe":
        d.state["published"] = publish(d.ctx, [probes.beneficiary(ident, programme)])
        return d.envelope("subscribe", probes.subscribe_request(programme), "post_reg_subscribe")
    if name == "statusChange":
        record = probes.beneficiary(ident, programme, status="4")
        message = probes.enrollment_updates_request([record], receipt_type="update")
        return d.envelope("notify", message)
    if name == "unsubscribe":
        code = d.steps["onSubscribe"].outputs.get("code")
        return d.envelope(
            "unsubscribe", probes.unsubscribe_request([str(code)]), "post_reg_unsubscribe"
        )
    raise KeyError(name)


def _status_change_after(d: WorkflowDriver, outputs: dict[str, Any]) -> list[str]:
    ident = d.state.get("ident", "")
    notified = [
        c.body for c in d.rx.received() if c.path.endswith("/notify") and ident in str(c.body)
    ]
    if not notified:
        return [f"IBR-NOTIFY-002: no notify carries the changed record {ident}"]
    statuses = {
        str(p.get("enrolment_status"))
        for body in notified
        for e in body.get("message", {}).get("notify_event", [])
        for r in (e.get("data") or {}).get("reg_records", [])
        for p in r.get("programme_identifier", [])
    }
    if "4" not in statuses:
        return [f"IBR-NOTIFY-002: notified enrolment statuses {sorted(statuses)}, expected '4'"]
    return []


def _search_inputs(d: WorkflowDriver, name: str) -> Any:
    return d.envelope("search", probes.search_request(), "post_reg_search")


def _sync_search_inputs(d: WorkflowDriver, name: str) -> Any:
    return d.envelope("search", probes.search_request())


def _txn_inputs(asynchronous: bool, d: WorkflowDriver, name: str) -> Any:
    if "txn" not in d.state:
        pub = publish(d.ctx, [probes.beneficiary(probes.fresh_id(), programme_name(d.ctx))])
        d.state["txn"] = str(probes.message_of(pub).get("transaction_id"))
    asked = probes.txn_status_request(d.state["txn"], txn_type="receipt")
    return d.envelope("txn-status", asked, "post_reg_txnstatus" if asynchronous else None)


def _txn_after(d: WorkflowDriver, outputs: dict[str, Any]) -> list[str]:
    status = outputs.get("status")
    inner = status.get("txn_status") if isinstance(status, Mapping) else None
    if not isinstance(inner, Mapping) or inner.get("transaction_id") != d.state.get("txn"):
        return [f"txn status does not describe transaction {d.state.get('txn')!r}"]
    return []


PLANS: dict[str, WorkflowPlan] = {
    "enrolledCheck": WorkflowPlan(("IBR-ENROLLED-001",), None, _enrolled_inputs, _enrolled_after),
    "publishEnrolmentsAndBenefits": WorkflowPlan(
        ("IBR-UPDATES-001", "IBR-UPDATES-002"), None, _publication_inputs, _publication_after
    ),
    "statusChangeNotification": WorkflowPlan(
        ("IBR-NOTIFY-001", "IBR-SUB-001", "IBR-SUB-002", "IBR-NOTIFY-002", "IBR-SUB-003"),
        "subscriptions",
        _status_change_inputs,
        _status_change_after,
    ),
    "asyncSearch": WorkflowPlan(("IBR-CB-001", "IBR-ACK-003"), "async", _search_inputs),
    "syncSearch": WorkflowPlan(("IBR-SEARCH-004",), None, _sync_search_inputs),
    "txnStatusAsync": WorkflowPlan(
        ("IBR-TXN-001", "IBR-CB-001"), "txn-status", partial(_txn_inputs, True), _txn_after
    ),
    "txnStatusSync": WorkflowPlan(
        ("IBR-TXN-001",), "txn-status", partial(_txn_inputs, False), _txn_after
    ),
}


def _step_evidence(result: StepResult) -> Exchange:
    return Exchange.build(
        method=result.operation.method,
        url=("(callback received) " if result.callback else "") + result.operation.path,
        request_headers={},
        request_body=result.request_body,
        status=result.status,
        response_headers={},
        response_body=result.response_body,
        note=f"step {result.step_id}",
    )


def _workflow_check(
    workflow: Workflow, plan: WorkflowPlan
) -> Callable[[CheckContext], Iterator[Failure]]:
    def check(ctx: CheckContext) -> Iterator[Failure]:
        index = operation_index(load_openapi())
        driver = WorkflowDriver(ctx, index)
        results, outputs = run_workflow(
            workflow,
            index=index,
            driver=driver,
            is_callback=lambda step: step.get("x-actor") == "IBR",
        )
        evidence = [_step_evidence(r) for r in results]
        primary = plan.requirements[0]
        problems = [p for r in results for p in r.failures]
        if plan.after and not problems:
            problems.extend(plan.after(driver, outputs))
        for problem in problems:
            rid, sep, text = problem.partition(": ")
            if not (sep and rid.startswith("IBR-")):
                rid, text = primary, problem
            yield ctx.failure(
                f"workflow {workflow.workflow_id}", text, evidence=evidence, requirements=[rid]
            )

    return check


def _has_callbacks(workflow: Workflow) -> bool:
    return any(step.get("x-actor") == "IBR" for step in workflow.steps)


def register_workflows() -> None:
    """One check per workflow of spec/workflows; a workflow without a plan is an error."""
    for workflow in load_workflows(spec_dir() / "workflows"):
        plan = PLANS.get(workflow.workflow_id)
        if plan is None:
            raise LookupError(f"no plan for workflow {workflow.workflow_id} ({workflow.source})")
        REGISTRY.add(
            CheckSpec(
                name=f"workflow_{workflow.workflow_id}",
                title=f"{workflow.source}: {workflow.summary}",
                phase=Phase.SCENARIOS,
                profile=Profile.IBR,
                requirements=tuple(
                    dict.fromkeys(
                        plan.requirements + (_CALLBACK_CHECKS if _has_callbacks(workflow) else ())
                    )
                ),
                func=_workflow_check(workflow, plan),
                capability=plan.capability,
            )
        )


register_workflows()
