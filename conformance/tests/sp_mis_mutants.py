"""The SP-MIS mutant catalogue: a mutating proxy around a correct SP-MIS (`ibr-client listen`).

Two proxies per mutant: one between the suite and the SP-MIS's callback and trigger endpoints
(it rewrites the SP-MIS's answers), one between the SP-MIS and the suite's mock IBR (it rewrites
the requests the SP-MIS sends). Each mutant names the requirement the suite must report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Json = Any
Mutator = Callable[[str, Json], Json]
"""(request path, parsed JSON body) -> the body to pass on."""
HeaderMutator = Callable[[str, dict[str, str]], dict[str, str]]
"""(request path, answer headers passed on) -> the headers to send back."""

_PASSED_ON = ("cache-control", "pragma", "www-authenticate")
"""Answer headers the suite judges, passed on by the proxy besides content-type."""


@dataclass
class SpMisMutant:
    name: str
    requirement: str
    check: str
    """The check that must report `requirement` (the only one run for this mutant)."""
    answer: Mutator | None = None
    """Rewrites the SP-MIS's answers to the suite (callback ACKs, trigger API)."""
    request: Mutator | None = None
    """Rewrites the requests the SP-MIS sends to the (mock) IBR."""
    answer_headers: HeaderMutator | None = None
    """Rewrites the headers of the SP-MIS's answers to the suite."""
    seen: dict[str, Any] = field(default_factory=dict)
    """Scratch state of a stateful mutator."""


def build_forwarder(
    upstream: Callable[[], str],
    mutate: Mutator | None,
    *,
    on: str,
    mutate_headers: HeaderMutator | None = None,
) -> Starlette:
    """Forward every request to `upstream`; `mutate` rewrites the JSON of `on` ("request" or
    "answer"), `mutate_headers` the answer's headers; request headers other than content-type
    and authorization are not passed on."""

    async def forward(request: Request) -> Response:
        raw = await request.body()
        headers = {
            k: v for k, v in request.headers.items() if k in ("authorization", "content-type")
        }
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if mutate and on == "request" and raw:
            raw = _rewrite(raw, lambda body: mutate(path, body))
        async with httpx.AsyncClient(timeout=30) as http:
            resp = await http.request(
                request.method, f"{upstream()}{path}", content=raw, headers=headers
            )
        content = resp.content
        if mutate and on == "answer":
            content = _rewrite(content, lambda body: mutate(path, body))
        media = resp.headers.get("content-type", "application/json")
        passed = {k: v for k, v in resp.headers.items() if k in _PASSED_ON}
        if mutate_headers:
            passed = mutate_headers(path, passed)
        return Response(content, status_code=resp.status_code, media_type=media, headers=passed)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


def _rewrite(raw: bytes, fn: Callable[[Json], Json]) -> bytes:
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    return json.dumps(fn(body)).encode()


# -- mutators ---------------------------------------------------------------------------------


def _err_to_ack(code: str, reason: str = "") -> Mutator:
    """Answer ACK where the SP-MIS refused with `code` (and `reason` in the error message)."""

    def apply(path: str, body: Json) -> Json:
        msg = body.get("message") if isinstance(body, dict) else None
        error = msg.get("error") if isinstance(msg, dict) else None
        matches = isinstance(error, dict) and error.get("code") == code
        if matches and reason in str(error.get("message", "")):  # type: ignore[union-attr]
            return {
                "message": {
                    "ack_status": "ACK",
                    "timestamp": msg["timestamp"],  # type: ignore[index]
                    "correlation_id": msg["correlation_id"],  # type: ignore[index]
                }
            }
        return body

    return apply


def _err_code(old: str, new: str) -> Mutator:
    def apply(path: str, body: Json) -> Json:
        msg = body.get("message") if isinstance(body, dict) else None
        error = msg.get("error") if isinstance(msg, dict) else None
        if isinstance(error, dict) and error.get("code") == old:
            error["code"] = new
        return body

    return apply


def header_mutator(fn: Callable[[dict[str, Any]], None]) -> Mutator:
    """Apply `fn` to the header of every registry request the SP-MIS sends."""

    def apply(path: str, body: Json) -> Json:
        if "/registry/" in path and isinstance(body, dict) and isinstance(body.get("header"), dict):
            fn(body["header"])
        return body

    return apply


def _drop_signature(path: str, body: Json) -> Json:
    if "/registry/" in path and isinstance(body, dict):
        body.pop("signature", None)
    return body


def _wrong_correlation(path: str, body: Json) -> Json:
    message = body.get("message") if isinstance(body, dict) else None
    if "/transactions/" in path and isinstance(message, dict):
        message["correlation_id"] = "not-the-acks-correlation-id"
    return body


def _reuse_message_id(mutant: SpMisMutant) -> Mutator:
    def keep_first(header: dict[str, Any]) -> None:
        header["message_id"] = mutant.seen.setdefault("message_id", header.get("message_id"))

    return header_mutator(keep_first)


def _drop_no_store(path: str, headers: dict[str, str]) -> dict[str, str]:
    if path.startswith("/oauth2/client/token"):
        return {k: v for k, v in headers.items() if k not in ("cache-control", "pragma")}
    return headers


def _auth_catalogue() -> list[SpMisMutant]:
    """Callback authentication (IBR-SEC-002..005, -009): the SP-MIS's token endpoint and the
    token checks of its callback endpoints."""
    return [
        SpMisMutant(
            "accepts_callback_without_token",
            "IBR-SEC-004",
            "callback_without_token_is_refused_with_401",
            answer=_err_to_ack("err.request.unauthorized"),
        ),
        SpMisMutant(
            "accepts_forged_token",
            "IBR-SEC-004",
            "callback_with_forged_or_expired_token_is_refused_with_401",
            answer=_err_to_ack("err.request.unauthorized"),
        ),
        SpMisMutant(
            "ignores_token_scope",
            "IBR-SEC-004",
            "callback_token_without_the_scope_is_refused_with_403",
            answer=_err_to_ack("err.request.forbidden"),
        ),
        SpMisMutant(
            "ignores_sender_binding",
            "IBR-SEC-005",
            "callback_from_another_sender_than_the_token_is_refused",
            answer=_err_to_ack("err.sender_id.invalid"),
        ),
        SpMisMutant(
            "checks_signature_before_token",
            "IBR-SEC-009",
            "callback_checks_come_in_order",
            answer=_err_code("err.request.unauthorized", "err.signature.invalid"),
        ),
        SpMisMutant(
            "token_response_cacheable",
            "IBR-SEC-003",
            "sp_mis_token_endpoint",
            answer_headers=_drop_no_store,
        ),
    ]


def _catalogue() -> list[SpMisMutant]:
    reuse = SpMisMutant("reuses_message_id", "IBR-HDR-007", "triggered_requests_follow_the_spec")
    reuse.request = _reuse_message_id(reuse)
    client_check = "triggered_requests_follow_the_spec"
    return [
        SpMisMutant(
            "acks_schema_invalid_callback",
            "IBR-ENV-004",
            "schema_invalid_callback_gets_err_request_bad",
            answer=_err_to_ack("err.request.bad"),
        ),
        SpMisMutant(
            "wrong_err_code_for_invalid_callback",
            "IBR-ENV-004",
            "schema_invalid_callback_gets_err_request_bad",
            answer=_err_code("err.request.bad", "err.service.unavailable"),
        ),
        SpMisMutant(
            "accepts_unsigned_callback",
            "IBR-SIG-005",
            "unsigned_callback_is_refused",
            answer=_err_to_ack("err.signature.missing"),
        ),
        SpMisMutant(
            "accepts_tampered_callback",
            "IBR-SIG-003",
            "tampered_callback_is_refused",
            answer=_err_to_ack("err.signature.invalid"),
        ),
        SpMisMutant(
            "accepts_foreign_key_callback",
            "IBR-SIG-004",
            "callback_signed_with_a_foreign_key_is_refused",
            answer=_err_to_ack("err.signature.invalid"),
        ),
        SpMisMutant(
            "accepts_stale_callback",
            "IBR-REPLAY-001",
            "stale_callback_is_refused",
            answer=_err_to_ack("err.request.bad"),
        ),
        SpMisMutant(
            "matches_callback_to_wrong_request",
            "IBR-ACK-003",
            client_check,
            answer=_wrong_correlation,
        ),
        SpMisMutant(
            "sends_unsigned_requests", "IBR-SIG-005", client_check, request=_drop_signature
        ),
        SpMisMutant(
            "omits_sender_uri",
            "IBR-HDR-001",
            client_check,
            request=header_mutator(lambda h: h.pop("sender_uri", None)),
        ),
        SpMisMutant(
            "wrong_action_in_header",
            "IBR-HDR-003",
            client_check,
            request=header_mutator(lambda h: h.update(action="on-search")),
        ),
        SpMisMutant(
            "zoneless_message_ts",
            "IBR-ENV-002",
            client_check,
            request=header_mutator(
                lambda h: h.update(message_ts=str(h.get("message_ts", ""))[:19])
            ),
        ),
        reuse,
        *_auth_catalogue(),
    ]


CATALOGUE: list[SpMisMutant] = _catalogue()
