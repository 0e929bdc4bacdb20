"""The sp-mis profile: the SP-MIS's callback endpoints and its behaviour as an IBR client.

(a) Callback endpoints: the suite plays the IBR and POSTs signed callbacks (from
spec/examples/valid) to the SP-MIS at `base_url`; valid ones must be ACKed, broken ones refused
with the right ERR. The SP-MIS must trust the suite's key: configure it with the mock IBR as its
IBR (it then fetches the suite's JWKS from `<mock>/.well-known/jwks.json`).
(b) Client behaviour: through the SP-MIS's trigger API (`trigger_url`) the suite asks it to
search, subscribe and unsubscribe against the built-in mock IBR, then judges each request it
sent (schema, signature, token, header rules) and whether it took the mock's callback.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import ack_problems, expect_refused
from ibr_conformance.context import CheckContext
from ibr_conformance.errors import HarnessError
from ibr_conformance.mock_ibr import RecordedRequest, callback_example
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_protocol import (
    IbrProtocolError,
    Jwks,
    build_callback,
    generate_signing_key,
    sign_envelope,
    validate,
    verify_envelope,
)
from ibr_protocol.envelope import envelope_schema

_SP, _ENV, _SEC, _SCN = Profile.SP_MIS, Phase.ENVELOPE, Phase.SECURITY, Phase.SCENARIOS

CALLBACK_PATHS = {
    "on-search": "on-search",
    "on-subscribe": "on-subscribe",
    "on-unsubscribe": "on-unsubscribe",
    "txn-on-status": "txn/on-status",
    "notify": "notify",
}
"""Callback action -> path under the registry prefix, as spec/openapi.yaml names them."""


def callback(ctx: CheckContext, action: str, *, sign: bool = True) -> dict[str, Any]:
    """A fresh callback envelope from the suite (as the IBR) to the SP-MIS under test."""
    example = callback_example(action)
    message = copy.deepcopy(example["message"])
    message["transaction_id"] = probes.fresh_id()
    env = build_callback(
        action=action,
        message=message,
        status="succ",
        sender_id=ctx.config.ibr_id,
        receiver_id=ctx.config.effective_sender_id(),
        total_count=example["header"].get("total_count"),
        completed_count=example["header"].get("completed_count"),
    )
    return ctx.target.sign(env) if sign else env


def post_callback(ctx: CheckContext, action: str, body: Any, **kw: Any) -> Exchange:
    return ctx.target.send(CALLBACK_PATHS[action], body, **kw)


def _require_signing(ctx: CheckContext) -> None:
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured: the suite cannot sign callbacks as the IBR")


# -- (a) callback endpoints -----------------------------------------------------------------------


@REGISTRY.check(
    phase=_ENV,
    profile=_SP,
    requirements=(
        "IBR-CB-004",
        "IBR-SEARCH-008",
        "IBR-TXN-005",
        "IBR-NOTIFY-003",
        "IBR-ACK-001",
        "IBR-ACK-002",
        "IBR-ENV-001",
    ),
)
def valid_callbacks_are_acknowledged(ctx: CheckContext) -> Iterator[Failure]:
    """Each callback endpoint answers a valid signed callback with HTTP 200 and an ACK."""
    blame = {
        "on-search": "IBR-SEARCH-008",
        "txn-on-status": "IBR-TXN-005",
        "notify": "IBR-NOTIFY-003",
    }
    for action in CALLBACK_PATHS:
        ex = post_callback(ctx, action, callback(ctx, action), note=f"valid {action}")
        ids = ["IBR-CB-004", *([blame[action]] if action in blame else [])]
        msg = probes.ack_message(ex)
        allowed = ("ACK", "NACK") if action == "notify" else ("ACK",)
        if ex.status != 200 or msg is None or msg.get("ack_status") not in allowed:
            yield ctx.failure(
                f"valid {action} not acknowledged",
                f"HTTP {ex.status}, ack_status {(msg or {}).get('ack_status')!r}; expected 200 "
                f"{' or '.join(allowed)} ({str(ex.response_body)[:200]})",
                evidence=[ex],
                requirements=ids,
            )
        for rid, problem in ack_problems(ex):
            yield ctx.failure(
                f"{action}: ACK breaks the ACK rules", problem, evidence=[ex], requirements=[rid]
            )


@REGISTRY.check(phase=_ENV, profile=_SP, requirements=("IBR-ENV-004", "IBR-ERR-001", "IBR-ERR-002"))
def schema_invalid_callback_gets_err_request_bad(ctx: CheckContext) -> Iterator[Failure]:
    """A callback whose message breaks its schema gets HTTP 400 ERR err.request.bad."""
    env = callback(ctx, "on-search", sign=False)
    env["message"]["search_response"] = "not-a-list"
    ex = post_callback(ctx, "on-search", ctx.target.sign(env), note="schema-invalid on-search")
    yield from expect_refused(
        ctx,
        ex,
        "schema-invalid on-search",
        status=400,
        code="err.request.bad",
        requirements=["IBR-ENV-004", "IBR-ERR-001"],
    )
    for rid, problem in ack_problems(ex):
        if rid == "IBR-ACK-002":
            yield ctx.failure(
                "ERR breaks the ACK rules", problem, evidence=[ex], requirements=["IBR-ERR-002"]
            )


@REGISTRY.check(phase=_ENV, profile=_SP, requirements=("IBR-ENV-005",))
def callback_of_another_media_type_gets_415(ctx: CheckContext) -> Iterator[Failure]:
    """A valid callback sent as text/plain is refused with HTTP 415."""
    raw = json.dumps(callback(ctx, "on-search")).encode()
    ex = post_callback(
        ctx, "on-search", None, raw=raw, headers={"content-type": "text/plain"}, note="text/plain"
    )
    yield from expect_refused(ctx, ex, "text/plain callback", status=415, code="err.request.bad")


@REGISTRY.check(
    phase=_SEC, profile=_SP, requirements=("IBR-SIG-005", "IBR-ERR-001"), capability="signing"
)
def unsigned_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback without a signature is refused with HTTP 401 err.signature.missing."""
    ex = post_callback(ctx, "on-search", callback(ctx, "on-search", sign=False), note="unsigned")
    yield from expect_refused(
        ctx, ex, "unsigned callback", status=401, code="err.signature.missing"
    )


@REGISTRY.check(
    phase=_SEC, profile=_SP, requirements=("IBR-SIG-003", "IBR-SIG-001"), capability="signing"
)
def tampered_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback changed after signing is refused with HTTP 401 err.signature.invalid."""
    _require_signing(ctx)
    env = callback(ctx, "on-search")
    env["message"]["transaction_id"] = "changed-after-signing"
    ex = post_callback(ctx, "on-search", env, note="tampered after signing")
    yield from expect_refused(
        ctx,
        ex,
        "tampered callback",
        status=401,
        code="err.signature.invalid",
        requirements=["IBR-SIG-003"],
    )


@REGISTRY.check(
    phase=_SEC, profile=_SP, requirements=("IBR-SIG-004", "IBR-SIG-011"), capability="signing"
)
def callback_signed_with_a_foreign_key_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback signed by a key the IBR never published (same kid) is err.signature.invalid."""
    _require_signing(ctx)
    stranger = generate_signing_key(ctx.target.signing_kid or "unknown")
    env = callback(ctx, "on-search", sign=False)
    ex = post_callback(ctx, "on-search", sign_envelope(env, stranger), note="foreign key")
    yield from expect_refused(
        ctx,
        ex,
        "foreign-key callback",
        status=401,
        code="err.signature.invalid",
        requirements=["IBR-SIG-004"],
    )
    env = callback(ctx, "on-search", sign=False)
    env["signature"] = "eyJhbGciOiJub25lIiwidHlwIjoiZGNpK2p3cyIsImtpZCI6IngifQ.."
    ex = post_callback(ctx, "on-search", env, note="alg none")
    yield from expect_refused(
        ctx, ex, "alg none callback", status=401, requirements=["IBR-SIG-011"]
    )


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-REPLAY-002",), capability="signing")
def replayed_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """The same signed callback (same message_id) sent twice: the second is err.request.bad."""
    _require_signing(ctx)
    env = callback(ctx, "on-search")
    first = post_callback(ctx, "on-search", env, note="original")
    if first.status != 200:
        ctx.skip(f"the original callback was not accepted (HTTP {first.status})")
    again = post_callback(ctx, "on-search", env, note="replay of the same message_id")
    yield from expect_refused(
        ctx, again, "replayed callback", status=400, code="err.request.bad", reason="duplicate"
    )


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-REPLAY-001",), capability="signing")
def stale_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback whose message_ts is an hour old is refused with err.request.bad."""
    _require_signing(ctx)
    env = callback(ctx, "on-search", sign=False)
    stale = datetime.now(UTC) - timedelta(hours=1)
    env["header"]["message_ts"] = stale.isoformat(timespec="seconds").replace("+00:00", "Z")
    ex = post_callback(ctx, "on-search", ctx.target.sign(env), note="message_ts 1 h old")
    yield from expect_refused(
        ctx, ex, "stale callback", status=400, code="err.request.bad", reason="message_ts"
    )


# -- (b) client behaviour through the trigger API and the mock IBR -------------------------------

_TRIGGERS: dict[str, dict[str, Any]] = {
    "search": {"queries": [{"type": "NID", "value": "CONF-0000000001"}]},
    "subscribe": {
        "reg_event_type": "enrollement_status_change",
        "filter_type": "predicate",
        "filter": probes.subscribe_request()["subscribe_request"][0]["subscribe_criteria"][
            "filter"
        ],
    },
    "unsubscribe": {"subscription_codes": ["SUB-CONFORMANCE-1"]},
}


def trigger_request(ctx: CheckContext, action: str) -> tuple[str, RecordedRequest]:
    """Ask the SP-MIS to perform `action`; return its transaction id and what the IBR got."""
    if not ctx.config.trigger_url:
        ctx.skip("no trigger_url configured: the SP-MIS's client behaviour cannot be driven")
    mock = ctx.require_mock_ibr()
    before = len(mock.requests())
    url = f"{ctx.config.trigger_url}/{action}"
    try:
        resp = ctx.target.http.post(url, json=_TRIGGERS[action])
    except httpx.HTTPError as exc:
        raise HarnessError(f"trigger {url} unreachable: {exc}") from exc
    if resp.status_code >= 300:
        raise HarnessError(f"trigger {url}: HTTP {resp.status_code} {resp.text[:300]}")
    txn = str(resp.json().get("transaction_id", ""))
    got = mock.wait_for(lambda r: True, timeout=ctx.config.callback_timeout, after=before)
    if got is None:
        raise HarnessError(f"the SP-MIS sent nothing to the mock IBR after POST {url}")
    return txn, got


def _sp_mis_keys(ctx: CheckContext) -> Jwks:
    source = ctx.config.sp_mis_jwks
    if not source:
        ctx.skip("no sp_mis_jwks configured: the SP-MIS's signatures cannot be verified")
    if source.startswith(("http://", "https://")):
        return Jwks.from_dict(ctx.target.get_json(source))
    return Jwks.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))


def as_exchange(r: RecordedRequest, note: str) -> Exchange:
    return Exchange.build(
        method="POST",
        url=r.path,
        request_headers=r.headers,
        request_body=r.body,
        status=200,
        response_headers={},
        response_body={"correlation_id": r.correlation_id},
        note=note,
    )


def _request_problems(
    ctx: CheckContext, r: RecordedRequest, action: str
) -> Iterator[tuple[str, str]]:
    body = r.body
    if not isinstance(body, Mapping) or not isinstance(body.get("header"), Mapping):
        yield "IBR-ENV-001", "the request is not an envelope with a header"
        return
    header = body["header"]
    try:
        validate(dict(body), envelope_schema(body))
    except IbrProtocolError as exc:
        yield "IBR-ENV-001", f"breaks {envelope_schema(body)}: {exc}"
    missing = {"version", "message_id", "message_ts", "action", "sender_id", "total_count"}
    missing -= set(header)
    if missing or header.get("version") != "1.0.0":
        yield "IBR-HDR-001", f"header lacks {sorted(missing)} or version != 1.0.0"
    if "status" in header:
        yield "IBR-HDR-001", "a request carries the callback header (header.status)"
    if header.get("action") != action:
        yield "IBR-HDR-003", f"header.action {header.get('action')!r} on /{action}"
    if not probes.ZONED_TS.match(str(header.get("message_ts", ""))):
        yield "IBR-ENV-002", f"message_ts {header.get('message_ts')!r} lacks a zone"
    try:
        uuid.UUID(str(header.get("message_id")))
    except ValueError:
        yield "IBR-HDR-007", f"message_id {header.get('message_id')!r} is not a UUID"
    uri = str(header.get("sender_uri", ""))
    if not uri.startswith(("http://", "https://")):
        yield "IBR-HDR-001", f"async request without an absolute sender_uri ({uri!r})"
    if header.get("receiver_id") != ctx.config.ibr_id:
        yield "IBR-HDR-001", f"receiver_id {header.get('receiver_id')!r} != {ctx.config.ibr_id!r}"
    token_problem = ctx.require_mock_ibr().tokens.problem(r.headers.get("authorization"))
    if token_problem is not None:
        yield "IBR-SEC-004", f"no valid bearer token the IBR issued: {token_problem}"
    signature = body.get("signature")
    if not isinstance(signature, str) or not signature:
        yield "IBR-SIG-005", "the request is unsigned"
    else:
        try:
            verify_envelope(dict(body), _sp_mis_keys(ctx).get)
        except IbrProtocolError as exc:
            yield "IBR-SIG-001", f"signature does not verify with the SP-MIS's JWKS: {exc}"


_CLIENT_IDS = (
    "IBR-ENV-001",
    "IBR-ENV-002",
    "IBR-HDR-001",
    "IBR-HDR-003",
    "IBR-HDR-007",
    "IBR-SEC-004",
    "IBR-SIG-001",
    "IBR-SIG-005",
    "IBR-ACK-003",
)


@REGISTRY.check(phase=_SCN, profile=_SP, requirements=_CLIENT_IDS)
def triggered_requests_follow_the_spec(ctx: CheckContext) -> Iterator[Failure]:
    """search, subscribe and unsubscribe sent by the SP-MIS: schema, signature, token, header."""
    seen_ids: dict[str, str] = {}
    for action in ("search", "subscribe", "unsubscribe"):
        txn, got = trigger_request(ctx, action)
        ex = as_exchange(got, f"what the SP-MIS sent for trigger/{action}")
        for rid, problem in _request_problems(ctx, got, action):
            yield ctx.failure(
                f"{action} request breaks the spec", problem, evidence=[ex], requirements=[rid]
            )
        mid = str((got.body.get("header") or {}).get("message_id", ""))
        if mid in seen_ids:
            yield ctx.failure(
                "message_id reused",
                f"{action} reuses the message_id of {seen_ids[mid]}: {mid}",
                evidence=[ex],
                requirements=["IBR-HDR-007"],
            )
        seen_ids[mid] = action
        yield from _callback_was_taken(ctx, action, txn, got, ex)


def _callback_was_taken(
    ctx: CheckContext, action: str, txn: str, got: RecordedRequest, ex: Exchange
) -> Iterator[Failure]:
    """The mock's callback (carrying the ACK's correlation_id) is ACKed and matched to `txn`."""
    deadline = time.monotonic() + ctx.config.callback_timeout
    url = f"{ctx.config.trigger_url}/transactions/{txn}"
    while time.monotonic() < deadline:
        resp = ctx.target.http.get(url)
        if resp.status_code == 200:
            message = resp.json().get("message", {})
            if message.get("correlation_id") != got.correlation_id:
                yield ctx.failure(
                    f"{action} callback matched to the wrong request",
                    f"correlation_id {message.get('correlation_id')!r}, the ACK gave "
                    f"{got.correlation_id!r}",
                    evidence=[ex],
                    requirements=["IBR-ACK-003"],
                )
            return
        time.sleep(0.2)
    yield ctx.failure(
        f"{action} callback not taken",
        f"GET {url} found no callback for transaction {txn!r} within "
        f"{ctx.config.callback_timeout} s (mock callback answers: "
        f"{ctx.require_mock_ibr().callback_answers[-3:]})",
        evidence=[ex],
        requirements=["IBR-ACK-003"],
    )
