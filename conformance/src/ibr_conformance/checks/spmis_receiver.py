"""The sp-mis profile, continued: receiver rules of the SP-MIS's callback endpoints.

The suite plays the IBR and POSTs callbacks to the SP-MIS under test (as in `checks/spmis.py`):
body limit, header version and receiver id, the DCI placeholder signature, ACK latency,
personal data in error messages, redelivered callbacks and item-level timestamps.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.checks.spmis import callback, post_callback, trigger_request
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_protocol import build_callback

_SP, _ENV, _SEC = Profile.SP_MIS, Phase.ENVELOPE, Phase.SECURITY

ACK_LIMIT_SECONDS = 5.0
PII_NAME = ("Oyelaran", "Kwabenah-Tshisekedi")
PII_IDENTIFIER = "730155192288"
PII_BIRTH_DATE = "14/03/1977"
"""Personal data planted in refused callbacks; none may come back in the answer."""


def _is_ack(ex: Exchange) -> bool:
    """Accepted: HTTP 200 with ACK, or NACK (accepted, nothing to follow, IBR-NOTIFY-003)."""
    msg = probes.ack_message(ex)
    return ex.status == 200 and msg is not None and msg.get("ack_status") in ("ACK", "NACK")


def _not_acked(ctx: CheckContext, ex: Exchange, what: str, rid: str) -> Failure:
    return ctx.failure(
        f"{what} not acknowledged",
        f"HTTP {ex.status}; expected 200 ACK or NACK ({str(ex.response_body)[:300]})",
        evidence=[ex],
        requirements=[rid],
    )


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-ENV-007",))
def oversized_callback_is_refused_with_413(ctx: CheckContext) -> Iterator[Failure]:
    """A callback body larger than the limit (default probe 11 MiB) is refused with HTTP 413."""
    env = callback(ctx, "on-search")
    env["padding"] = "x" * ctx.config.max_body_bytes
    raw = json.dumps(env).encode()
    ex = post_callback(ctx, "on-search", None, raw=raw, note="oversized callback")
    yield from expect_refused(ctx, ex, "oversized callback", status=413)


@REGISTRY.check(phase=_ENV, profile=_SP, requirements=("IBR-HDR-004",))
def callback_of_an_unsupported_version_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback with header.version 9.9.9 is refused with err.version.not_supported."""
    env = callback(ctx, "on-search", sign=False)
    env["header"]["version"] = "9.9.9"
    ex = post_callback(ctx, "on-search", ctx.target.sign(env), note="header.version 9.9.9")
    yield from expect_refused(
        ctx, ex, "callback of version 9.9.9", status=400, code="err.version.not_supported"
    )


@REGISTRY.check(phase=_ENV, profile=_SP, requirements=("IBR-HDR-005",))
def callback_for_another_receiver_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A callback whose header.receiver_id is not the SP-MIS's id gets err.receiver_id.invalid."""
    env = callback(ctx, "on-search", sign=False)
    env["header"]["receiver_id"] = "another-sp-mis"
    ex = post_callback(ctx, "on-search", ctx.target.sign(env), note="foreign receiver_id")
    yield from expect_refused(
        ctx, ex, "callback for another receiver", status=400, code="err.receiver_id.invalid"
    )


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SIG-010",), capability="signing")
def dci_placeholder_signature_on_a_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """The DCI example 'Signature: namespace=...' string on a callback is refused with 401.

    A strict receiver says err.signature.invalid; in DCI-compatibility mode it is "no
    signature", which a receiver that requires signatures answers err.signature.missing.
    """
    env = callback(ctx, "on-search", sign=False)
    env["signature"] = 'Signature:  namespace="dci", kidId="x|y|ed25519", algorithm="ed25519"'
    ex = post_callback(ctx, "on-search", env, note="DCI placeholder signature")
    yield from expect_refused(ctx, ex, "placeholder signature", status=401)
    code = probes.error_code(ex)
    if probes.is_rejected(ex) and code not in ("err.signature.invalid", "err.signature.missing"):
        yield ctx.failure(
            "placeholder signature: wrong error code",
            f"error code {code!r}; expected err.signature.invalid (strict) or "
            "err.signature.missing (DCI-compatibility mode)",
            evidence=[ex],
        )


@REGISTRY.check(phase=_ENV, profile=_SP, requirements=("IBR-ACK-004",))
def callback_is_acknowledged_within_five_seconds(ctx: CheckContext) -> Iterator[Failure]:
    """Each callback endpoint ACKs a valid callback within 5 s (the work is done afterwards)."""
    for action in ("on-search", "notify"):
        started = time.perf_counter()
        ex = post_callback(ctx, action, callback(ctx, action), note=f"timed {action}")
        elapsed = time.perf_counter() - started
        if elapsed > ACK_LIMIT_SECONDS:
            yield ctx.failure(
                f"{action}: ACK too slow",
                f"answer after {elapsed:.1f} s (limit {ACK_LIMIT_SECONDS:.0f} s)",
                evidence=[ex],
            )


def _with_personal_data(ctx: CheckContext, breakage: str) -> dict[str, Any]:
    """An on-search callback about a person whose data is `PII_*`, broken as `breakage` says."""
    env = callback(ctx, "on-search", sign=False)
    record = env["message"]["search_response"][0]["data"]["reg_records"][0]
    person = record["member"]["demographic_info"]
    person["name"] = {"given_name": PII_NAME[0], "surname": PII_NAME[1]}
    identifier: Any = int(PII_IDENTIFIER) if breakage == "identifier" else PII_IDENTIFIER
    person["identifier"] = [{"identifier_type": "NID", "identifier_value": identifier}]
    record["member"]["member_identifier"] = person["identifier"]
    person["birth_date"] = PII_BIRTH_DATE if breakage == "birth_date" else "1977-03-14"
    if breakage == "version":
        env["header"]["version"] = "9.9.9"
    signed = ctx.target.sign(env)
    if breakage == "signature":
        signed["message"]["transaction_id"] = "changed-after-signing"
    return signed


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-ERR-003",))
def error_messages_carry_no_personal_data(ctx: CheckContext) -> Iterator[Failure]:
    """Refused callbacks about a person: the ERR never repeats the person's name, id or birth date.

    Only the answers are judged here; the SP-MIS's logs are for the assessor (same rule).
    """
    planted = (*PII_NAME, PII_IDENTIFIER, PII_BIRTH_DATE, "1977-03-14")
    refused = 0
    for breakage in ("birth_date", "identifier", "version", "signature"):
        env = _with_personal_data(ctx, breakage)
        ex = post_callback(ctx, "on-search", env, note=f"personal data, broken {breakage}")
        if not probes.is_rejected(ex):
            continue
        refused += 1
        answer = json.dumps(ex.response_body) if not isinstance(ex.response_body, str) else ""
        answer += ex.response_body if isinstance(ex.response_body, str) else ""
        leaked = [value for value in planted if value in answer]
        if leaked:
            yield ctx.failure(
                "personal data in an error message",
                f"the answer to a callback with a broken {breakage} repeats {leaked}",
                evidence=[ex],
            )
    if not refused:
        ctx.skip("none of the broken callbacks was refused; nothing to judge")


def _redelivery(ctx: CheckContext, first: dict[str, Any]) -> dict[str, Any]:
    """The same callback message under a new header, as the IBR retries after a lost ACK."""
    header = first["header"]
    env = build_callback(
        action=str(header["action"]),
        message=first["message"],
        status=header.get("status", "succ"),
        sender_id=str(header["sender_id"]),
        receiver_id=str(header.get("receiver_id", "")),
        total_count=header.get("total_count"),
        completed_count=header.get("completed_count"),
    )
    return ctx.target.sign(env)


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-REPLAY-003",))
def redelivered_callback_is_acknowledged_and_handled_once(ctx: CheckContext) -> Iterator[Failure]:
    """A callback redelivered with a new message_id (same transaction and reference ids) is ACKed.

    With a trigger API the suite also checks that the SP-MIS kept the first delivery: its
    transaction shows the first message_id, not the redelivery's.
    """
    for action in ("on-search", "notify"):
        first = callback(ctx, action)
        ex = post_callback(ctx, action, first, note=f"{action}, first delivery")
        if not _is_ack(ex):
            continue  # valid_callbacks_are_acknowledged reports it; a redelivery says nothing
        again = post_callback(ctx, action, _redelivery(ctx, first), note=f"{action} redelivered")
        if not _is_ack(again):
            yield _not_acked(ctx, again, f"redelivered {action}", "IBR-REPLAY-003")
    if ctx.config.trigger_url and ctx.mock_ibr is not None:
        yield from _handled_once(ctx)


def _handled_once(ctx: CheckContext) -> Iterator[Failure]:
    txn, _ = trigger_request(ctx, "search")
    url = f"{ctx.config.trigger_url}/transactions/{txn}"
    stored = _wait_for_transaction(ctx, url)
    if stored is None:
        return  # the mock's callback was not taken: triggered_requests_follow_the_spec says so
    first_id = stored["header"].get("message_id")
    env = _redelivery(ctx, {"header": stored["header"], "message": stored["message"]})
    again = post_callback(ctx, "on-search", env, note="mock's on-search redelivered")
    if not _is_ack(again):
        yield _not_acked(ctx, again, "redelivered on-search", "IBR-REPLAY-003")
    after = ctx.target.http.get(url).json()
    if after.get("header", {}).get("message_id") != first_id:
        yield ctx.failure(
            "redelivery handled as a new callback",
            f"{url} now shows message_id {after.get('header', {}).get('message_id')!r}, "
            f"the first delivery was {first_id!r}",
            evidence=[again],
        )


def _wait_for_transaction(ctx: CheckContext, url: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + ctx.config.callback_timeout
    while time.monotonic() < deadline:
        resp = ctx.target.http.get(url)
        if resp.status_code == 200:
            return dict(resp.json())
        time.sleep(0.2)
    return None


def _age_item_timestamps(value: Any, stamp: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "timestamp" and isinstance(item, str):
                value[key] = stamp
            else:
                _age_item_timestamps(item, stamp)
    elif isinstance(value, list):
        for item in value:
            _age_item_timestamps(item, stamp)


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-REPLAY-004",))
def item_timestamps_outside_the_window_are_accepted(ctx: CheckContext) -> Iterator[Failure]:
    """Callbacks whose item timestamps are three days old (header current) are still ACKed."""
    old = datetime.now(UTC) - timedelta(days=3)
    stamp = old.isoformat(timespec="seconds").replace("+00:00", "Z")
    for action in ("on-search", "txn-on-status", "notify"):
        env = callback(ctx, action, sign=False)
        _age_item_timestamps(env["message"], stamp)
        env["header"]["message_id"] = str(uuid.uuid4())
        ex = post_callback(ctx, action, ctx.target.sign(env), note=f"{action}, items 3 days old")
        if not _is_ack(ex):
            yield _not_acked(ctx, ex, f"{action} with old item timestamps", "IBR-REPLAY-004")
