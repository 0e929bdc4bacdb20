"""The mutant catalogue: deliberately broken IBRs made by a proxy in front of a correct one.

Each mutant rewrites requests, responses or callbacks of the reference IBR in one way and names
the requirement the suite must then report as failed. The proxy works in front of any IBR.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ibr_protocol import (
    IbrProtocolError,
    Jwks,
    build_request,
    public_jwk,
    sign_envelope,
    verify_envelope,
)
from ibr_protocol.dci_signature import is_dci_signature

Json = Any


@dataclass
class Call:
    """One request through the proxy, as the mutators see it."""

    path: str
    headers: dict[str, str]
    body: Json
    raw: bytes


@dataclass
class Mutant:
    name: str
    requirement: str
    """The requirement id the suite must report as failed."""
    request: Callable[[Call, ProxyState], None] | None = None
    response: Callable[[Call, int, Json], tuple[int, Json]] | None = None
    callback: Callable[[Json], list[Json]] | None = None
    """Maps one callback to those actually delivered (0, 1 or more)."""
    callback_auth: bool = True
    """False: callbacks are delivered without the IBR's Authorization header."""
    jwks: Callable[[list[dict[str, Any]]], None] | None = None
    """Rewrites the published keys in place."""
    check: str | None = None
    """Run only this check (default: every check naming `requirement`); needed when the real
    IBR already fails another check of the same requirement (a recorded deviation)."""


@dataclass
class ProxyState:
    upstream: str
    suite_key: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)
    """client_id -> last token the upstream issued to it."""


def build_proxy(state: ProxyState, mutant: Mutant, public_url: Callable[[], str]) -> Starlette:
    # One short-lived client per call: a client shared across the server's event loop would be
    # left open when the loop closes (ResourceWarning, which the test run treats as an error).
    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30)

    async def token(request: Request) -> Response:
        raw = await request.body()
        async with client() as http:
            resp = await http.post(
                f"{state.upstream}/oauth2/client/token",
                content=raw,
                headers={"content-type": request.headers.get("content-type", "")},
            )
        form = dict(x.split("=", 1) for x in raw.decode().split("&") if "=" in x)
        if resp.status_code == 200:
            state.tokens[unquote(form.get("client_id", ""))] = resp.json()["access_token"]
        return Response(resp.content, status_code=resp.status_code, media_type="application/json")

    async def jwks(request: Request) -> Response:
        async with client() as http:
            resp = await http.get(f"{state.upstream}/.well-known/jwks.json")
        if mutant.jwks and resp.status_code == 200:
            keys = resp.json()
            mutant.jwks(keys["keys"])
            return JSONResponse(keys)
        return Response(resp.content, status_code=resp.status_code, media_type="application/json")

    async def callback(request: Request) -> Response:
        target = unquote(request.path_params["target"])
        body = await request.json()
        auth = request.headers.get("authorization")
        headers = {"authorization": auth} if auth and mutant.callback_auth else {}
        for out in mutant.callback(body) if mutant.callback else [body]:
            async with client() as http:
                await http.post(target, json=out, headers=headers)
        return JSONResponse({"message": {"ack_status": "ACK"}})

    async def forward(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        call = Call(
            path=request.url.path,
            headers={
                k: v for k, v in request.headers.items() if k in ("authorization", "content-type")
            },
            body=body,
            raw=raw,
        )
        if mutant.request:
            mutant.request(call, state)
        if mutant.callback and isinstance(call.body, dict):
            uri = call.body.get("header", {}).get("sender_uri")
            if uri:
                call.body["header"]["sender_uri"] = f"{public_url()}/_cb/{quote(uri, safe='')}"
                call.body = sign_envelope(
                    {k: v for k, v in call.body.items() if k != "signature"}, state.suite_key
                )
        content = (
            json.dumps(call.body).encode()
            if call.body is not None and (mutant.request or mutant.callback)
            else call.raw
        )
        async with client() as http:
            resp = await http.post(
                f"{state.upstream}{call.path}", content=content, headers=call.headers
            )
        try:
            out: Json = resp.json()
        except ValueError:
            out = resp.text
        status = resp.status_code
        if mutant.response:
            status, out = mutant.response(call, status, out)
        return JSONResponse(out, status_code=status)

    return Starlette(
        routes=[
            Route("/oauth2/client/token", token, methods=["POST"]),
            Route("/.well-known/jwks.json", jwks),
            Route("/_cb/{target:path}", callback, methods=["POST"]),
            Route("/{path:path}", forward, methods=["POST"]),
        ]
    )


# -- helpers for mutators -------------------------------------------------------------------------


def _is_ack(body: Json) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("message"), dict)
        and "ack_status" in body["message"]
    )


def on_ack(
    fn: Callable[[dict[str, Any]], None], status: str = "ACK"
) -> Callable[[Call, int, Json], tuple[int, Json]]:
    def mutate(call: Call, code: int, body: Json) -> tuple[int, Json]:
        if _is_ack(body) and body["message"]["ack_status"] == status:
            fn(body["message"])
        return code, body

    return mutate


def _on_envelope(
    fn: Callable[[dict[str, Any]], None], path_part: str = "/sync/search"
) -> Callable[[Call, int, Json], tuple[int, Json]]:
    def mutate(call: Call, code: int, body: Json) -> tuple[int, Json]:
        if path_part in call.path and isinstance(body, dict) and "header" in body:
            fn(body)
        return code, body

    return mutate


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return apply


def drop(path: list[str]) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        d.pop(path[-1], None)

    return apply


def _resign(
    call: Call, state: ProxyState, *, fresh_id: bool = False, fresh_ts: bool = False
) -> None:
    if not isinstance(call.body, dict) or "header" not in call.body:
        return
    env = {k: v for k, v in call.body.items() if k in ("header", "message")}
    if fresh_id or fresh_ts:
        h = env["header"]
        new = build_request(
            action=h["action"],
            message=env["message"],
            sender_id=h["sender_id"],
            receiver_id=h["receiver_id"],
            sender_uri=h.get("sender_uri"),
        )
        if not fresh_id:
            new["header"]["message_id"] = h["message_id"]
        if not fresh_ts:
            new["header"]["message_ts"] = h["message_ts"]
        env = new
    call.body = sign_envelope(env, state.suite_key)


def _token_swap(
    select: Callable[[str, ProxyState], bool], to: str = "conf-main"
) -> Callable[[Call, ProxyState], None]:
    def apply(call: Call, state: ProxyState) -> None:
        token = call.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if select(token, state) and to in state.tokens:
            call.headers["authorization"] = f"Bearer {state.tokens[to]}"

    return apply


def _status_of_request(
    match: Callable[[Call], bool], status: int
) -> Callable[[Call, int, Json], tuple[int, Json]]:
    def mutate(call: Call, code: int, body: Json) -> tuple[int, Json]:
        return (status, {"detail": "internal error"}) if match(call) else (code, body)

    return mutate


def _cb(
    fn: Callable[[Json], list[Json]], action: str = "on-search"
) -> Callable[[Json], list[Json]]:
    def apply(body: Json) -> list[Json]:
        return fn(body) if body.get("header", {}).get("action") == action else [body]

    return apply


def _cb_set(path: list[str], value: Any, action: str = "on-search") -> Callable[[Json], list[Json]]:
    def apply(body: Json) -> list[Json]:
        _set(path, value)(body)
        return [body]

    return _cb(apply, action)


def _err_mutate(
    fn: Callable[[dict[str, Any]], None],
) -> Callable[[Call, int, Json], tuple[int, Json]]:
    return on_ack(fn, status="ERR")


def always_ack(call: Call, code: int, body: Json) -> tuple[int, Json]:
    if (
        _is_ack(body)
        and body["message"]["ack_status"] == "ERR"
        and body["message"]["error"]["code"] == "err.request.bad"
    ):
        return 200, {
            "message": {
                "ack_status": "ACK",
                "timestamp": body["message"]["timestamp"],
                "correlation_id": body["message"]["correlation_id"],
            }
        }
    return code, body


def _rewrite_page_size(call: Call, state: ProxyState) -> None:
    if isinstance(call.body, dict) and "search_request" in str(call.body.get("message", {}))[:200]:
        for item in call.body["message"].get("search_request", []):
            item["search_criteria"].setdefault("pagination", {})["page_size"] = 100
        _resign(call, state)


def _private_uri_to_loopback(call: Call, state: ProxyState) -> None:
    uri = call.body.get("header", {}).get("sender_uri", "") if isinstance(call.body, dict) else ""
    if uri.startswith(("http://10.", "http://169.254.")):
        call.body["header"]["sender_uri"] = "http://127.0.0.1:9/registry/on-search"
        _resign(call, state)


def _strip_zone(d: dict[str, Any]) -> None:
    d["message_ts"] = d["message_ts"][:19]


def _signature_breaks(call: Call, state: ProxyState) -> bool:
    """True when the request is signed by the suite's key but the signature does not verify."""
    if not isinstance(call.body, dict) or not call.body.get("signature"):
        return False
    try:
        verify_envelope(call.body, Jwks([public_jwk(state.suite_key)]))
    except IbrProtocolError:
        return True
    return False


def _signature_first(call: Call, state: ProxyState) -> None:
    """Checks the signature before the token: a bad signature is answered even with a bad token."""
    if _signature_breaks(call, state):
        _token_swap(lambda t, s: True)(call, state)


def _decrypts_first(call: Call, state: ProxyState) -> None:
    """Decrypts before verifying: an encrypted message with a bad signature reaches decryption."""
    header = call.body.get("header", {}) if isinstance(call.body, dict) else {}
    if header.get("is_msg_encrypted") and _signature_breaks(call, state):
        _resign(call, state)


def _refuse_old_item_timestamp(call: Call, code: int, body: Json) -> tuple[int, Json]:
    if b'"timestamp": "2001-' not in call.raw:
        return code, body
    return 400, {
        "message": {
            "ack_status": "ERR",
            "timestamp": "2030-01-01T00:00:00Z",
            "correlation_id": str(uuid.uuid4()),
            "error": {"code": "err.request.bad", "message": "timestamp outside the time window"},
        }
    }


def _refuse_sync_sender_uri(call: Call, code: int, body: Json) -> tuple[int, Json]:
    sync = call.path.rstrip("/").split("/")[-2:-1] == ["sync"]
    if not (sync and isinstance(call.body, dict) and call.body.get("header", {}).get("sender_uri")):
        return code, body
    return 400, {
        "message": {
            "ack_status": "ERR",
            "timestamp": "2030-01-01T00:00:00Z",
            "correlation_id": str(uuid.uuid4()),
            "error": {"code": "err.sender_uri.invalid", "message": "sender_uri not registered"},
        }
    }


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def _rewrite_updates(
    fn: Callable[[dict[str, Any]], None],
) -> Callable[[Call, ProxyState], None]:
    """A request mutator applying `fn` to every beneficiary of an enrolment-updates batch: the
    IBR behind the proxy then behaves as one that loses or misreads what `fn` changes."""

    def apply(call: Call, state: ProxyState) -> None:
        if "/enrollment/updates" not in call.path or not isinstance(call.body, dict):
            return
        updates = call.body.get("message", {}).get("enrolled_updates", {})
        for beneficiary in updates.get("beneficiaries", []) or []:
            fn(beneficiary)
        _resign(call, state)

    return apply


def _enrolments(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda b: [fn(e) for e in b.get("programme_identifier", [])]


def _drop_death_date(beneficiary: dict[str, Any]) -> None:
    beneficiary.get("member", {}).get("demographic_info", {}).pop("death_date", None)


def _aliases_kept_verbatim(beneficiary: dict[str, Any]) -> None:
    """Identifier types other than the canonical NID/UIN become unknown types (kept as sent)."""
    member = beneficiary.get("member", {})
    for doc in [
        *member.get("member_identifier", []),
        *member.get("demographic_info", {}).get("identifier", []),
    ]:
        if doc.get("identifier_type") not in ("NID", "UIN"):
            doc["identifier_type"] = f"RAW-{doc['identifier_type']}"


def _dates_repaired(beneficiary: dict[str, Any]) -> None:
    """Silently repairs impossible dates instead of rejecting the item."""
    person = beneficiary.get("member", {}).get("demographic_info", {})
    birth = person.get("birth_date", "")
    if person.get("death_date", "9") < birth:
        person.pop("death_date")
    for enrolment in beneficiary.get("programme_identifier", []):
        enrolment["enrolment_date"] = max(enrolment.get("enrolment_date", ""), birth)
        if enrolment.get("status_change_date", "") > utc_today():
            enrolment["status_change_date"] = utc_today()


def _negative_as_positive(enrolment: dict[str, Any]) -> None:
    for benefit in enrolment.get("benefits", []):
        value = benefit.get("benefit_value", {})
        value["amount"] = str(value.get("amount", "")).lstrip("-")


def _dci_signature_as(
    replace: Callable[[Call, ProxyState], None],
) -> Callable[[Call, ProxyState], None]:
    """A request mutator for requests carrying DCI's signature string only."""

    def apply(call: Call, state: ProxyState) -> None:
        if isinstance(call.body, dict) and is_dci_signature(call.body.get("signature")):
            replace(call, state)

    return apply


def _from_optional_signature_client(call: Call, state: ProxyState) -> bool:
    token = call.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and token == state.tokens.get("conf-sig-optional")


def _optional_policy_ignores_signatures(call: Call, state: ProxyState) -> None:
    """Under the optional policy, a signature is dropped instead of verified."""
    if _from_optional_signature_client(call, state) and isinstance(call.body, dict):
        call.body.pop("signature", None)


def _optional_policy_ignored(call: Call, state: ProxyState) -> None:
    """The optional client's unsigned requests are refused, as under the required policy (the
    proxy makes the IBR see a signature that does not verify)."""
    if not (_from_optional_signature_client(call, state) and isinstance(call.body, dict)):
        return
    signature = call.body.get("signature")
    if not signature or signature == "unsigned":
        call.body["signature"] = "e30..bm90LWEtc2lnbmF0dXJl"


CATALOGUE: list[Mutant] = [
    Mutant(
        "ack_http_202",
        "IBR-ACK-001",
        response=lambda c, s, b: (
            (202, b) if _is_ack(b) and b["message"]["ack_status"] == "ACK" else (s, b)
        ),
    ),
    Mutant("ack_without_correlation_id", "IBR-ACK-001", response=on_ack(drop(["correlation_id"]))),
    Mutant("ack_with_extra_field", "IBR-ACK-001", response=on_ack(_set(["debug"], "x"))),
    Mutant(
        "ack_zoneless_timestamp",
        "IBR-ACK-001",
        response=on_ack(lambda m: m.update(timestamp=m["timestamp"][:19])),
    ),
    Mutant("ack_error_null", "IBR-ACK-002", response=on_ack(_set(["error"], None))),
    Mutant("ack_says_nack", "IBR-ACK-001", response=on_ack(_set(["ack_status"], "NACK"))),
    Mutant("err_error_null", "IBR-ACK-002", response=_err_mutate(_set(["error"], None))),
    Mutant(
        "err_wrong_code",
        "IBR-ENV-004",
        response=_err_mutate(lambda m: m["error"].update(code="err.service.unavailable")),
    ),
    Mutant("accepts_invalid_message", "IBR-ENV-004", response=always_ack),
    Mutant(
        "constant_correlation_id",
        "IBR-ACK-003",
        response=on_ack(_set(["correlation_id"], "fixed")),
    ),
    Mutant("sync_without_header", "IBR-ENV-001", response=_on_envelope(drop(["header"]))),
    Mutant(
        "sync_extra_field_in_message",
        "IBR-ENV-001",
        response=_on_envelope(_set(["message", "internal_id"], 42)),
    ),
    Mutant(
        "sync_null_optional_field",
        "IBR-ENV-002",
        response=_on_envelope(_set(["header", "status_reason_code"], None)),
    ),
    Mutant(
        "header_zoneless_message_ts",
        "IBR-ENV-002",
        response=_on_envelope(lambda b: _strip_zone(b["header"])),
    ),
    Mutant(
        "header_wrong_version",
        "IBR-HDR-002",
        response=_on_envelope(_set(["header", "version"], "0.9")),
    ),
    Mutant(
        "header_wrong_receiver",
        "IBR-HDR-002",
        response=_on_envelope(_set(["header", "receiver_id"], "someone-else")),
    ),
    Mutant(
        "wrong_transaction_id",
        "IBR-SEARCH-004",
        response=_on_envelope(_set(["message", "transaction_id"], "other")),
    ),
    Mutant(
        "drops_reference_id",
        "IBR-SEARCH-004",
        response=_on_envelope(
            lambda b: [i.pop("reference_id", None) for i in b["message"].get("search_response", [])]
        ),
    ),
    Mutant("unsigned_response", "IBR-SIG-005", response=_on_envelope(drop(["signature"]))),
    Mutant(
        "response_signature_stale",
        "IBR-SIG-001",
        response=_on_envelope(_set(["message", "correlation_id"], str(uuid.uuid4()))),
    ),
    Mutant("accepts_missing_token", "IBR-SEC-004", request=_token_swap(lambda t, s: not t)),
    Mutant(
        "accepts_forged_token",
        "IBR-SEC-004",
        request=_token_swap(lambda t, s: bool(t) and t not in s.tokens.values()),
    ),
    Mutant(
        "ignores_scope",
        "IBR-SEC-004",
        request=_token_swap(lambda t, s: t == s.tokens.get("conf-limited")),
    ),
    Mutant(
        "accepts_unsigned",
        "IBR-SIG-005",
        request=lambda c, s: (
            _resign(c, s) if isinstance(c.body, dict) and not c.body.get("signature") else None
        ),
    ),
    Mutant(
        "accepts_bad_signature",
        "IBR-SIG-003",
        request=lambda c, s: (
            _resign(c, s) if isinstance(c.body, dict) and c.body.get("signature") else None
        ),
    ),
    Mutant("accepts_replay", "IBR-REPLAY-002", request=lambda c, s: _resign(c, s, fresh_id=True)),
    Mutant(
        "accepts_stale_timestamp",
        "IBR-REPLAY-001",
        request=lambda c, s: _resign(c, s, fresh_ts=True),
    ),
    Mutant("calls_back_private_addresses", "IBR-CB-002", request=_private_uri_to_loopback),
    Mutant(
        "oversized_body_crashes",
        "IBR-ENV-007",
        response=_status_of_request(lambda c: len(c.raw) > 1024 * 1024, 500),
    ),
    Mutant(
        "deep_json_crashes",
        "IBR-ENV-004",
        response=_status_of_request(lambda c: b"[[[[[[[[" in c.raw, 500),
    ),
    Mutant(
        "injection_crashes",
        "IBR-SEARCH-001",
        response=_status_of_request(lambda c: b"DROP TABLE" in c.raw, 500),
    ),
    Mutant("loses_callback", "IBR-CB-001", callback=_cb(lambda b: [])),
    Mutant("duplicates_callback", "IBR-HDR-007", callback=_cb(lambda b: [b, b])),
    Mutant(
        "callback_wrong_correlation_id",
        "IBR-CB-005",
        callback=_cb_set(["message", "correlation_id"], "wrong"),
    ),
    Mutant(
        "callback_wrong_action", "IBR-HDR-003", callback=_cb_set(["header", "action"], "search")
    ),
    Mutant("ignores_pagination", "IBR-SEARCH-005", request=_rewrite_page_size),
    Mutant(
        "enrolled_results_reversed",
        "IBR-ENROLLED-003",
        response=_on_envelope(
            lambda b: b["message"].get("enrolled_response", []).reverse(), "/sync/enrolled"
        ),
    ),
    Mutant(
        "enrolled_always_no",
        "IBR-ENROLLED-001",
        response=_on_envelope(
            lambda b: [
                i.update(enrolled_status="no") for i in b["message"].get("enrolled_response", [])
            ],
            "/sync/enrolled",
        ),
    ),
    Mutant("jwks_publishes_private_key", "IBR-SEC-008", jwks=lambda keys: keys[0].update(d="x")),
    Mutant(
        "txn_status_not_found",
        "IBR-TXN-001",
        response=lambda c, s, b: (
            (
                404,
                {
                    "message": {
                        "ack_status": "ERR",
                        "timestamp": "2024-01-01T00:00:00Z",
                        "correlation_id": "x",
                        "error": {"code": "err.request.not_found", "message": "gone"},
                    }
                },
            )
            if "/txn/status" in c.path
            else (s, b)
        ),
    ),
    Mutant("jwks_duplicate_kid", "IBR-SIG-012", jwks=lambda keys: keys.append(dict(keys[0]))),
    Mutant(
        "sync_response_unsafe_integer",
        "IBR-SIG-013",
        response=_on_envelope(_set(["message", "conformance_counter"], 2**60)),
    ),
    Mutant("refuses_old_item_timestamp", "IBR-REPLAY-004", response=_refuse_old_item_timestamp),
    Mutant("refuses_sender_uri_on_sync", "IBR-HDR-008", response=_refuse_sync_sender_uri),
    Mutant(
        "sender_uri_on_sync_response",
        "IBR-HDR-008",
        response=_on_envelope(_set(["header", "sender_uri"], "http://127.0.0.1:9/on-search")),
    ),
    Mutant(
        "signature_before_token",
        "IBR-SEC-009",
        request=_signature_first,
        check="token_then_signature_errors_come_first",
    ),
    Mutant("decrypts_before_verifying", "IBR-ENC-007", request=_decrypts_first),
    Mutant(
        "callback_without_token",
        "IBR-SEC-004",
        callback=lambda b: [b],
        callback_auth=False,
        check="callbacks_carry_a_token_the_receiver_issued",
    ),
    Mutant(
        "identifier_aliases_not_resolved",
        "IBR-REG-001",
        request=_rewrite_updates(_aliases_kept_verbatim),
    ),
    Mutant(
        "record_ids_ignored",
        "IBR-REG-002",
        request=_rewrite_updates(_enrolments(lambda e: e.pop("beneficiary_programme_id", None))),
    ),
    Mutant(
        "event_dates_ignored",
        "IBR-REG-003",
        request=_rewrite_updates(_enrolments(lambda e: e.pop("status_change_date", None))),
    ),
    Mutant(
        "every_update_a_correction",
        "IBR-REG-004",
        request=_rewrite_updates(_enrolments(lambda e: e.update(status_reason="correction"))),
    ),
    Mutant("impossible_dates_repaired", "IBR-REG-005", request=_rewrite_updates(_dates_repaired)),
    Mutant("drops_death_date", "IBR-REG-006", request=_rewrite_updates(_drop_death_date)),
    Mutant(
        "enrolled_always_yes",
        "IBR-REG-007",
        response=_on_envelope(
            lambda b: [
                i.update(enrolled_status="yes") for i in b["message"].get("enrolled_response", [])
            ],
            "/sync/enrolled",
        ),
    ),
    Mutant(
        "accepts_negative_amounts",
        "IBR-REG-008",
        request=_rewrite_updates(_enrolments(_negative_as_positive)),
    ),
    Mutant(
        "dci_signature_refused",
        "IBR-SIG-015",
        request=_dci_signature_as(lambda c, s: c.body.update(signature="unsigned")),
    ),
    Mutant(
        "dci_signature_not_verified",
        "IBR-SIG-015",
        request=_dci_signature_as(lambda c, s: _resign(c, s)),
    ),
    Mutant(
        "optional_policy_ignores_signatures",
        "IBR-SIG-016",
        request=_optional_policy_ignores_signatures,
    ),
    Mutant("optional_policy_ignored", "IBR-SIG-016", request=_optional_policy_ignored),
]
