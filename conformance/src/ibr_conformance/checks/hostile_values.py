"""Hostile values a schema-driven fuzzer never generates, sent to every IBR operation.

schemathesis draws from the schemas, so it never sends what JSON parsers, signature
canonicalisation (RFC 8785) and databases choke on: integers beyond I-JSON's ±(2^53 - 1) (up to
thousands of digits), NaN and Infinity, numbers that overflow a double, NUL characters and lone
surrogates in strings, lists far over their `maxItems`. This catalogue sends each of them in a
signed request, with and without a bearer token, in the places a real attacker would use (a
business string, the header's `message_id`, `total_count`), and expects a clean refusal: never
a 5xx, a 400 `err.request.bad` (401 without a token is also fine), and an error message that
does not echo what was sent (IBR-ERR-003).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure

__all__ = ["HOSTILE_VALUES", "HostileValue"]

_MARKER = "HOSTILE-MARKER-7Q"
"""Placed in the valid message, then replaced by the hostile JSON text."""
_ECHO = "Zq7x"
"""Part of every hostile string: an error message containing it echoes what was sent."""


@dataclass(frozen=True)
class HostileValue:
    """One value: a label and the JSON text that replaces the marker."""

    label: str
    json_text: str
    in_string: bool
    """True for a string value (placed where a string goes), else a number."""


HOSTILE_VALUES: tuple[HostileValue, ...] = (
    HostileValue("5000-digit integer", "9" * 5000, in_string=False),
    HostileValue("integer 2^53, beyond I-JSON", str(2**53), in_string=False),
    HostileValue("20-digit negative integer", "-" + "9" * 20, in_string=False),
    HostileValue("NaN", "NaN", in_string=False),
    HostileValue("Infinity", "Infinity", in_string=False),
    HostileValue("-Infinity", "-Infinity", in_string=False),
    HostileValue("overflowing 1e400", "1e400", in_string=False),
    HostileValue("NUL in a string", f'"{_ECHO}\\u0000{_ECHO}"', in_string=True),
    HostileValue("lone high surrogate", f'"{_ECHO}\\ud800"', in_string=True),
    HostileValue("lone low surrogate", f'"\\udfff{_ECHO}"', in_string=True),
)

_Builder = Callable[[CheckContext], tuple[str, str, dict[str, Any]]]
"""ctx -> (operation, action, a message whose identifier value is the marker)."""

_OPERATIONS: tuple[_Builder, ...] = (
    lambda ctx: ("sync/search", "search", probes.search_request(_MARKER)),
    lambda ctx: ("sync/enrolled", "search", probes.enrolled_request(_MARKER)),
    lambda ctx: (
        "sync/enrollment/updates",
        "notify",
        probes.enrollment_updates_request([probes.beneficiary(_MARKER, "CONF-PROG")]),
    ),
)


def _bodies(ctx: CheckContext, value: HostileValue) -> Iterator[tuple[str, str, bytes]]:
    """(operation, where, body bytes) for each place ``value`` goes."""
    for build in _OPERATIONS:
        operation, action, message = build(ctx)
        envelope = ctx.target.envelope(action, message)
        if value.in_string:
            envelope["header"]["message_id"] = _MARKER + "-id"
            text = json.dumps(envelope)
            yield operation, "an identifier value", _swap(text, f'"{_MARKER}"', value).encode()
            yield operation, "header.message_id", _swap(text, f'"{_MARKER}-id"', value).encode()
        else:
            text = json.dumps(envelope)
            total = f'"total_count": {envelope["header"].get("total_count", 1)}'
            swapped = text.replace(total, f'"total_count": {value.json_text}', 1)
            if swapped != text:
                yield operation, "header.total_count", swapped.encode()


def _swap(text: str, quoted_marker: str, value: HostileValue) -> str:
    return text.replace(quoted_marker, value.json_text)


def _expect_clean_refusal(
    ctx: CheckContext, ex: Exchange, what: str, *, with_token: bool
) -> Iterator[Failure]:
    statuses = (400,) if with_token else (400, 401)
    failures = list(expect_refused(ctx, ex, what, status=statuses))
    yield from failures
    if failures:
        return
    if ex.status == 400 and probes.error_code(ex) != "err.request.bad":
        yield ctx.failure(
            f"{what}: wrong error code",
            f"error code {probes.error_code(ex)!r}, expected 'err.request.bad'",
            evidence=[ex],
        )
    if _ECHO in json.dumps(ex.response_body, ensure_ascii=False):
        yield ctx.failure(
            f"{what}: the value sent is echoed",
            "the error message repeats the hostile value; it may name the field only",
            evidence=[ex],
            requirements=["IBR-ERR-003"],
        )


@REGISTRY.check(
    phase=Phase.FUZZING,
    profile=Profile.IBR,
    requirements=("IBR-ENV-010", "IBR-ERR-001", "IBR-ERR-003"),
)
def hostile_values_are_refused_cleanly(ctx: CheckContext) -> Iterator[Failure]:
    """Huge integers, NaN/Infinity, NUL and lone surrogates: 400 naming nothing sent, no 5xx."""
    for value in HOSTILE_VALUES:
        for operation, where, body in _bodies(ctx, value):
            for with_token in (True, False):
                token_note = "with token" if with_token else "without token"
                what = f"{value.label} in {where} of {operation} ({token_note})"
                ex = (
                    ctx.target.send(operation, None, raw=body, note=what)
                    if with_token
                    else ctx.target.send(operation, None, raw=body, note=what, token=None)
                )
                yield from _expect_clean_refusal(ctx, ex, what, with_token=with_token)


@REGISTRY.check(phase=Phase.FUZZING, profile=Profile.IBR, requirements=("IBR-ENV-010",))
def a_list_far_over_max_items_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """5,000 enrolled criteria (maxItems 100): refused with 400 (or 413), never processed."""
    message = probes.enrolled_request("CONF-0000000001")
    criterion = message["enrolled_criteria"]
    message["enrolled_criteria"] = [dict(criterion, reference_id=f"c{i}") for i in range(5000)]
    ex = ctx.target.send(
        "sync/enrolled", ctx.target.envelope("search", message), note="5000 criteria"
    )
    yield from expect_refused(ctx, ex, "5000 enrolled criteria", status=(400, 413))
