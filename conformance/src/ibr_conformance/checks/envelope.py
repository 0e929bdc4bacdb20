"""Envelope, acknowledgement and response-header rules of the IBR's answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import WIRE_CODES, ack_problems, expect_refused, expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure

_IBR, _ENV = Profile.IBR, Phase.ENVELOPE


def sync_search(ctx: CheckContext) -> tuple[dict[str, Any], Exchange]:
    request = ctx.target.envelope("search", probes.search_request())
    return request, ctx.target.send("sync/search", request)


def async_search(ctx: CheckContext, message: dict[str, Any] | None = None) -> Exchange:
    rx = ctx.require_receiver()
    request = ctx.target.envelope(
        "search", message or probes.search_request(), sender_uri=f"{rx.url}/registry/on-search"
    )
    return ctx.target.send("search", request)


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ACK-001", "IBR-ACK-002"))
def async_request_is_acknowledged_with_the_spec_ack(ctx: CheckContext) -> Iterator[Failure]:
    """A valid async search is answered HTTP 200 with an ACK that matches schemas/api/ack."""
    ex = async_search(ctx)
    if ex.status != 200:
        yield ctx.failure(
            "async search not answered 200",
            f"expected HTTP 200, got {ex.status}",
            evidence=[ex],
            requirements=["IBR-ACK-001"],
        )
    msg = probes.ack_message(ex)
    if msg is not None and msg.get("ack_status") != "ACK":
        yield ctx.failure(
            "valid request not ACKed",
            f"ack_status is {msg.get('ack_status')!r}; a callback follows, so it must be ACK",
            evidence=[ex],
            requirements=["IBR-ACK-001"],
        )
    for rid, problem in ack_problems(ex):
        yield ctx.failure("ACK breaks the ACK rules", problem, evidence=[ex], requirements=[rid])


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ACK-004",))
def async_request_is_acknowledged_within_five_seconds(ctx: CheckContext) -> Iterator[Failure]:
    """The ACK of an async search arrives within 5 s (the work is done afterwards)."""
    started = time.perf_counter()
    ex = async_search(ctx)
    elapsed = time.perf_counter() - started
    if elapsed > 5.0:
        yield ctx.failure("ACK too slow", f"ACK after {elapsed:.1f} s (limit 5 s)", evidence=[ex])


@REGISTRY.check(
    phase=_ENV,
    profile=_IBR,
    requirements=("IBR-ENV-004", "IBR-ACK-002", "IBR-ERR-001", "IBR-ERR-002"),
)
def invalid_request_gets_an_err_ack_with_a_dci_code(ctx: CheckContext) -> Iterator[Failure]:
    """A message that breaks its schema gets HTTP 400, an ERR ACK, err.request.bad and a reason."""
    request = ctx.target.envelope(
        "search", {"transaction_id": "t-1", "search_request": "not-a-list"}
    )
    ex = ctx.target.send("sync/search", request)
    yield from expect_refused(
        ctx,
        ex,
        "schema-invalid message",
        status=400,
        code="err.request.bad",
        requirements=["IBR-ENV-004", "IBR-ERR-001"],
    )
    msg = probes.ack_message(ex)
    if msg is None:
        yield ctx.failure(
            "refusal is not an ERR ACK",
            "expected an ERR ACK body",
            evidence=[ex],
            requirements=["IBR-ENV-004"],
        )
        return
    for rid, problem in ack_problems(ex):
        yield ctx.failure(
            "ERR ACK breaks the ACK rules", problem, evidence=[ex], requirements=[rid]
        )
    error = msg.get("error") if isinstance(msg.get("error"), Mapping) else {}
    text = str((error or {}).get("message", ""))
    if "search_request" not in text:
        yield ctx.failure(
            "error does not name the failing field",
            f"error.message {text[:200]!r} does not name message.search_request",
            evidence=[ex],
            requirements=["IBR-ENV-004"],
        )
    first = text.split(" ", 1)[0].split(":", 1)[0]
    if not first.startswith("err.") or first in WIRE_CODES - {"err.request.bad"}:
        yield ctx.failure(
            "no reason first in error.message",
            f"error.message should start with an api/error_reason code, got {text[:80]!r}",
            evidence=[ex],
            requirements=["IBR-ERR-002"],
        )


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ACK-003",))
def correlation_ids_are_unique_per_request(ctx: CheckContext) -> Iterator[Failure]:
    """Two requests get two different, non-empty correlation ids."""
    first, second = async_search(ctx), async_search(ctx)
    ids = [(probes.ack_message(e) or {}).get("correlation_id") for e in (first, second)]
    if not all(ids) or ids[0] == ids[1]:
        yield ctx.failure("correlation ids not unique", f"got {ids}", evidence=[first, second])


@REGISTRY.check(
    phase=_ENV, profile=_IBR, requirements=("IBR-ENV-001", "IBR-HDR-002", "IBR-ENV-002")
)
def sync_response_is_a_valid_envelope(ctx: CheckContext) -> Iterator[Failure]:
    """sync/search answers 200 with an envelope whose header and message match spec/."""
    _, ex = sync_search(ctx)
    body = ex.response_body
    if ex.status != 200:
        yield ctx.failure(
            "sync search failed",
            f"expected HTTP 200, got {ex.status}",
            evidence=[ex],
            requirements=["IBR-ENV-001"],
        )
        return
    if (
        not isinstance(body, Mapping)
        or not isinstance(body.get("header"), Mapping)
        or "message" not in body
    ):
        yield ctx.failure(
            "not an envelope",
            "body lacks header or message",
            evidence=[ex],
            requirements=["IBR-ENV-001"],
        )
        return
    for schema, part, rid in (
        ("api/envelope_search_response", body, "IBR-ENV-001"),
        ("api/callback_header", body["header"], "IBR-HDR-002"),
    ):
        for problem in probes.schema_problems(part, schema) or []:
            yield ctx.failure(
                f"response breaks {schema}", problem, evidence=[ex], requirements=[rid]
            )
    yield from _empty_members(ctx, body, "", ex)


def _empty_members(ctx: CheckContext, value: Any, path: str, ex: Exchange) -> Iterator[Failure]:
    # Canonical form: optional members are omitted, never "" or null (IBR-ENV-002).
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if inner is None or inner == "":
                yield ctx.failure(
                    "empty optional member",
                    f"{path}{key} is {inner!r}; omit it instead",
                    evidence=[ex],
                    requirements=["IBR-ENV-002"],
                )
            else:
                yield from _empty_members(ctx, inner, f"{path}{key}.", ex)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _empty_members(ctx, inner, f"{path}{i}.", ex)


@REGISTRY.check(
    phase=_ENV, profile=_IBR, requirements=("IBR-HDR-002", "IBR-ENV-002", "IBR-HDR-007")
)
def response_header_follows_the_header_rules(ctx: CheckContext) -> Iterator[Failure]:
    """The response header: version 1.0.0, UUID message_id, zoned message_ts, addressed to us."""
    _, ex = sync_search(ctx)
    header = probes.body_of(ex).get("header")
    if not isinstance(header, Mapping):
        yield ctx.failure(
            "no response header", "body has no header", evidence=[ex], requirements=["IBR-HDR-002"]
        )
        return
    if header.get("version") != "1.0.0":
        yield ctx.failure(
            "wrong version",
            f"header.version is {header.get('version')!r}",
            evidence=[ex],
            requirements=["IBR-HDR-002"],
        )
    if not probes.ZONED_TS.match(str(header.get("message_ts", ""))):
        yield ctx.failure(
            "zone-less message_ts",
            f"header.message_ts {header.get('message_ts')!r} is not RFC 3339 with a zone",
            evidence=[ex],
            requirements=["IBR-ENV-002"],
        )
    sender = ctx.config.effective_sender_id()
    if header.get("receiver_id") != sender:
        yield ctx.failure(
            "response not addressed to the sender",
            f"header.receiver_id {header.get('receiver_id')!r} != our sender_id {sender!r}",
            evidence=[ex],
            requirements=["IBR-HDR-002"],
        )
    if header.get("status") not in ("rcvd", "pdng", "succ", "rjct"):
        yield ctx.failure(
            "bad header.status",
            f"header.status {header.get('status')!r}",
            evidence=[ex],
            requirements=["IBR-HDR-002"],
        )
    if not _is_uuid(header.get("message_id")):
        yield ctx.failure(
            "message_id is not a UUID",
            f"header.message_id {header.get('message_id')!r}",
            evidence=[ex],
            requirements=["IBR-HDR-007"],
        )
    _, again = sync_search(ctx)
    again_header = probes.body_of(again).get("header")
    if isinstance(again_header, Mapping) and again_header.get("message_id") == header.get(
        "message_id"
    ):
        yield ctx.failure(
            "message_id reused",
            f"two responses share message_id {header.get('message_id')!r}",
            evidence=[ex, again],
            requirements=["IBR-HDR-007"],
        )


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-SEARCH-004",))
def response_echoes_transaction_and_reference_ids(ctx: CheckContext) -> Iterator[Failure]:
    """The response echoes transaction_id, one item per reference_id, and a correlation_id."""
    request, ex = sync_search(ctx)
    msg = probes.message_of(ex)
    if not msg:
        yield ctx.failure("no response message", "body has no message", evidence=[ex])
        return
    sent = request["message"]
    if msg.get("transaction_id") != sent["transaction_id"]:
        yield ctx.failure(
            "transaction_id not echoed",
            f"got {msg.get('transaction_id')!r}, sent {sent['transaction_id']!r}",
            evidence=[ex],
        )
    if not msg.get("correlation_id"):
        yield ctx.failure("no correlation_id", "message lacks correlation_id", evidence=[ex])
    got = [str(i.get("reference_id")) for i in probes.items(ex, "search_response")]
    want = [r["reference_id"] for r in sent["search_request"]]
    if got != want:
        yield ctx.failure("reference_id not echoed", f"got {got}, sent {want}", evidence=[ex])


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ENV-005", "IBR-ERR-001"))
def other_media_types_are_refused_with_415(ctx: CheckContext) -> Iterator[Failure]:
    """A valid envelope sent as text/plain is refused with HTTP 415 err.request.bad."""
    env = ctx.target.envelope("search", probes.search_request())
    import json

    ex = ctx.target.send(
        "sync/search",
        None,
        raw=json.dumps(env).encode(),
        headers={"content-type": "text/plain"},
        note="content-type text/plain",
    )
    yield from expect_refused(
        ctx, ex, "text/plain body", status=415, code="err.request.bad", reason="media_type"
    )


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ENV-008",))
def registry_paths_are_also_served_under_ibr(ctx: CheckContext) -> Iterator[Failure]:
    """sync/search under /ibr/registry answers as under /registry."""
    env = ctx.target.envelope("search", probes.search_request())
    url = f"{ctx.config.root_url()}/ibr{ctx.config.registry_prefix}/sync/search"
    ex = ctx.target.post_url(url, env, note="the /ibr prefix")
    yield from expect_succ(ctx, ex, "sync/search under /ibr")


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-ENV-003",))
def dci_variant_spellings_are_accepted(ctx: CheckContext) -> Iterator[Failure]:
    """A search in DCI variant spellings (string total_count, prefixed codes) is processed."""
    message = probes.search_request()
    env = ctx.target.envelope("search", message, sign=False)
    env["header"]["total_count"] = str(env["header"]["total_count"])
    env["header"]["is_msg_encrypted"] = "false"
    env["message"]["search_request"][0]["search_criteria"]["reg_record_type"] = "Beneficiary"
    env["message"]["search_request"][0]["search_criteria"]["reg_type"] = "IBR"
    ex = ctx.target.send("sync/search", ctx.target.sign(env), note="DCI variant spellings")
    yield from expect_succ(ctx, ex, "DCI-variant search")
