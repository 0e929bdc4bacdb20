"""Spec-driven fuzzing with schemathesis over spec/openapi.yaml, mapped onto requirement ids.

Only the `/registry` operations the profile's side serves (`x-implemented-by`) are fuzzed; the
token and JWKS endpoints have dedicated checks in the security phase. Positive cases are wrapped
into a fresh, signed envelope from us (so they get past authentication, signature, time window
and replay checks and reach business validation); negative cases are sent as generated, still
with a valid token, so that their refusal is about the broken body. The CI seed, `deterministic`
generation and `fuzz_max_examples` keep a run reproducible and bounded.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import schemathesis
import yaml
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_protocol import build_callback, build_request, spec_dir

__all__ = ["SCHEMATHESIS_CHECKS", "fuzz_schema"]

_ASYNC = "IBR-ACK-001"
_SYNC = "IBR-ENV-001"

SCHEMATHESIS_CHECKS: dict[str, tuple[str, ...]] = {
    # A generated request, valid or not, never earns a 5xx: client mistakes are 4xx.
    "not_a_server_error": ("IBR-ERR-001",),
    "status_code_conformance": ("IBR-ERR-001",),
    "content_type_conformance": ("IBR-ENV-005",),
    # Resolved per operation: the ACK of async operations, the envelope of sync ones.
    "response_schema_conformance": (_ASYNC, _SYNC),
    "response_headers_conformance": ("IBR-ERR-004",),
    "negative_data_rejection": ("IBR-ENV-004",),
    "positive_data_acceptance": ("IBR-ENV-003",),
    "missing_required_header": ("IBR-SEC-004",),
    "ignored_auth": ("IBR-SEC-004",),
}
"""schemathesis built-in check -> the requirement ids a failure of it breaks."""

_EXPECTED_AUTH_REFUSAL = "Expected 401 or 403"

_DISABLED = (
    # Stateful-only or outside the spec (RFC 9110 Allow headers, object-level authz);
    # max_response_time stays off because it is only on when given a limit.
    "use_after_free",
    "ensure_resource_availability",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
)

_LOG = logging.getLogger(__name__)
_REQUIREMENTS = tuple(dict.fromkeys(r for ids in SCHEMATHESIS_CHECKS.values() for r in ids))
_FAILURES_PER_CHECK = 3


def _side_document(side: str, registry_prefix: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """spec/openapi.yaml reduced to `side`'s /registry operations (or those in `only`, e.g.
    `txn/status`), JSON bodies only.

    multipart/form-data uploads are optional (IBR-ENV-006, a MAY), so they are not fuzzed.
    """
    raw = yaml.safe_load((spec_dir() / "openapi.yaml").read_text(encoding="utf-8"))
    paths: dict[str, Any] = {}
    for path, item in raw.get("paths", {}).items():
        if not path.startswith("/registry/"):
            continue
        if only and path.removeprefix("/registry/") not in only:
            continue
        ops = {
            method: op
            for method, op in item.items()
            if isinstance(op, dict) and str(op.get("x-implemented-by", "")).lower() == side
        }
        for op in ops.values():
            op.get("requestBody", {}).get("content", {}).pop("multipart/form-data", None)
        if ops:
            paths[registry_prefix + path.removeprefix("/registry")] = ops
    raw["paths"] = paths
    raw.pop("webhooks", None)
    raw["servers"] = []
    return dict(raw)


def _schemathesis_config(ctx: CheckContext) -> SchemathesisConfig:
    cfg = ctx.config
    checks: dict[str, Any] = {name: {"enabled": True} for name in SCHEMATHESIS_CHECKS}
    checks.update({name: {"enabled": False} for name in _DISABLED})
    return SchemathesisConfig.from_dict(
        {
            "seed": cfg.seed,
            "base-url": cfg.root_url(),
            "request-timeout": cfg.timeout,
            "suppress-health-check": ["all"],
            "headers": dict(cfg.extra_headers),
            "generation": {
                "mode": "all",
                "max-examples": cfg.fuzz_max_examples,
                "deterministic": True,
                "database": "none",
                # A NUL in a string is refused by every receiver (IBR-ENV-010, which the
                # hostile-value catalogue of this phase tests); generated valid cases hold none.
                "allow-x00": False,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # spec/openapi.yaml declares no links, so there is nothing to chain yet.
                "stateful": {"enabled": True},
            },
            "checks": checks,
        }
    )


def _is_negative(case: Any) -> bool:
    meta = case.meta
    if meta is None:
        return False
    return bool(
        meta.generation.mode is GenerationMode.NEGATIVE
        or any(info.mode.is_negative for info in meta.components.values())
    )


def _callback_uri(ctx: CheckContext, operation_path: str) -> str | None:
    """Our receiver's callback URL of an async operation (IBR-HDR-008: none on sync ones)."""
    if ctx.receiver is None or "/sync/" in operation_path:
        return None
    head, _, last = operation_path.rpartition("/")
    return f"{ctx.receiver.url}{head}/on-{last}"


def fuzz_schema(ctx: CheckContext, side: str) -> OpenApiSchema:
    """The schemathesis schema of `side`, with our auth and envelope hooks."""
    schema = schemathesis.openapi.from_dict(
        _side_document(side, ctx.config.registry_prefix, ctx.config.fuzz_operations),
        config=_schemathesis_config(ctx),
    )
    # Relative $refs (./schemas/...) resolve against the spec file.
    schema.location = (spec_dir() / "openapi.yaml").absolute().as_uri()
    target = ctx.target

    @schema.auth()
    class _Token:
        def get(self, case: Any, context: Any) -> str | None:
            return target.access_token()

        def set(self, case: Any, data: str | None, context: Any) -> None:
            if data:
                case.headers["Authorization"] = f"Bearer {data}"

    @schema.hook
    def map_case(context: Any, case: Any) -> Any:
        body = case.body
        if _is_negative(case) or not isinstance(body, Mapping):
            return case
        # Open objects (`header.meta`, expression values) cannot bound their numbers in a
        # schema, but every receiver refuses integers beyond I-JSON's range (IBR-ENV-010, tested
        # by the hostile-value catalogue): a valid case holds none.
        case.body = body = _within_i_json(body)
        header, message = body.get("header"), body.get("message")
        if not isinstance(header, Mapping) or not isinstance(message, Mapping):
            return case
        if header.get("is_msg_encrypted") or "ciphertext" in message:
            # A generated EncryptedMessage cannot be decrypted by anyone; send it as plaintext
            # would be wrong too, so it stays a case the target must refuse cleanly.
            return case
        action = str(header.get("action", ""))
        if side == "sp-mis":
            envelope = build_callback(
                action=action,
                message=copy.deepcopy(dict(message)),
                status="rjct" if header.get("status") == "rjct" else "succ",
                sender_id=ctx.config.ibr_id,
                receiver_id=ctx.config.effective_sender_id(),
            )
        else:
            envelope = build_request(
                action=action,
                message=copy.deepcopy(dict(message)),
                sender_id=ctx.config.effective_sender_id(),
                receiver_id=ctx.config.receiver_id,
                # Always a callback URL on async operations: without one an IBR may refuse
                # the case (IBR-CB-001) before it reaches the business validation fuzzed here.
                sender_uri=_callback_uri(ctx, case.path),
            )
        case.body = target.sign(envelope)
        return case

    return schema


_MAX_SAFE_INTEGER = 2**53 - 1


def _within_i_json(value: Any) -> Any:
    """``value`` with every integer beyond ±(2^53 - 1) brought back to that bound."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(-_MAX_SAFE_INTEGER, min(_MAX_SAFE_INTEGER, value))
    if isinstance(value, Mapping):
        return {key: _within_i_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_within_i_json(item) for item in value]
    return value


def _json(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _throttled(recorder: Any, case_id: str) -> bool:
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    return response is not None and response.status_code == 429


def _exchange(recorder: Any, case_id: str, curl: str) -> list[Exchange]:
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return []
    req, resp = interaction.request, interaction.response
    return [
        Exchange.build(
            method=req.method,
            url=req.uri,
            request_headers={k: ", ".join(v) for k, v in req.headers.items()},
            request_body=_json(req.body),
            status=resp.status_code if resp is not None else None,
            response_headers={k: ", ".join(v) for k, v in resp.headers.items()} if resp else {},
            response_body=_json(resp.content) if resp is not None else None,
            elapsed_ms=(resp.elapsed * 1000) if resp is not None else 0.0,
            note=f"reproduce: {curl}",
        )
    ]


def _requirements_for(
    check: str, label: str, sync_paths: frozenset[str], message: str
) -> tuple[str, ...]:
    ids = SCHEMATHESIS_CHECKS[check]
    if check == "response_schema_conformance":
        return (_SYNC,) if label.split(" ", 1)[-1] in sync_paths else (_ASYNC,)
    if check == "status_code_conformance" and _EXPECTED_AUTH_REFUSAL in message:
        # A 2xx to a request schemathesis sent with invalid credentials: the operation does
        # not authenticate its caller, which is IBR-SEC-004, not a wrong error status.
        return SCHEMATHESIS_CHECKS["ignored_auth"]
    return ids


def run_fuzzing(ctx: CheckContext, side: str) -> Iterator[Failure]:
    """Run schemathesis over `side`'s operations; one Failure per (check, operation, problem)."""
    schema = fuzz_schema(ctx, side)
    sync_paths = frozenset(p for p in schema.raw_schema["paths"] if "/sync/" in p)
    per_check: dict[tuple[str, str], int] = {}
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise RuntimeError(f"schemathesis stopped: {event.exception}")
        if not isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            continue
        recorder = event.recorder
        cases += len(recorder.interactions)
        for case_id, nodes in recorder.checks.items():
            for node in nodes:
                info = node.failure_info
                if info is None or node.name not in SCHEMATHESIS_CHECKS:
                    continue
                if _throttled(recorder, case_id):
                    # 429: the target refused the request for its rate (IBR-SEC throttling),
                    # which says nothing about how it would have answered the case itself.
                    continue
                label = recorder.label
                key = (node.name, label)
                if per_check.get(key, 0) >= _FAILURES_PER_CHECK:
                    continue
                per_check[key] = per_check.get(key, 0) + 1
                failure = info.failure
                yield ctx.failure(
                    f"fuzzing {node.name}: {failure.title}",
                    f"{label}: {failure.message}".strip()[:1500],
                    evidence=_exchange(recorder, case_id, info.code_sample),
                    requirements=_requirements_for(
                        node.name, label, sync_paths, failure.message or ""
                    ),
                )
    # The size of the run, for the timing figure of a certification run.
    operations = len(schema.raw_schema["paths"])
    _LOG.info("fuzzing %s: %d cases over %d operations", side, cases, operations)


@REGISTRY.check(phase=Phase.FUZZING, profile=Profile.IBR, requirements=_REQUIREMENTS)
def ibr_operations_survive_schema_driven_fuzzing(ctx: CheckContext) -> Iterator[Failure]:
    """schemathesis (examples, coverage, fuzzing) over the IBR's operations: spec answers only."""
    yield from run_fuzzing(ctx, "ibr")


@REGISTRY.check(
    phase=Phase.FUZZING,
    profile=Profile.SP_MIS,
    requirements=_REQUIREMENTS,
    name="sp_mis_callbacks_survive_schema_driven_fuzzing",
)
def sp_mis_callbacks_survive_fuzzing(ctx: CheckContext) -> Iterator[Failure]:
    """schemathesis over the SP-MIS's callback endpoints: spec answers only."""
    yield from run_fuzzing(ctx, "sp-mis")
