"""Request-header rules the IBR enforces as a receiver (IBR-HDR-*, IBR-SEC-005)."""

from __future__ import annotations

from collections.abc import Iterator

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure

_IBR, _ENV = Profile.IBR, Phase.ENVELOPE
_OP = "sync/search"


def _send_with_header(ctx: CheckContext, note: str, **changes: object) -> Exchange:
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    for key, value in changes.items():
        if value is None:
            env["header"].pop(key, None)
        else:
            env["header"][key] = value
    return ctx.target.send(_OP, ctx.target.sign(env), note=note)


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-HDR-001",))
def request_without_a_required_header_field_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A request header lacking message_id, message_ts, action or sender_id is refused (400)."""
    for field in ("message_id", "message_ts", "action", "sender_id"):
        ex = _send_with_header(ctx, f"header.{field} removed", **{field: None})
        yield from expect_refused(ctx, ex, f"header without {field}", status=(400, 401, 403))


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-HDR-003",))
def action_that_does_not_match_the_operation_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """header.action 'subscribe' on sync/search is refused with err.request.bad."""
    ex = _send_with_header(ctx, "action subscribe on sync/search", action="subscribe")
    yield from expect_refused(ctx, ex, "wrong action", status=400, code="err.request.bad")


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-HDR-004",))
def unsupported_version_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """header.version 9.9.9 is answered with err.version.not_supported."""
    ex = _send_with_header(ctx, "version 9.9.9", version="9.9.9")
    yield from expect_refused(ctx, ex, "version 9.9.9", code="err.version.not_supported")


@REGISTRY.check(phase=_ENV, profile=_IBR, requirements=("IBR-HDR-005",))
def foreign_receiver_id_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """header.receiver_id that is not the IBR's id is answered with err.receiver_id.invalid."""
    ex = _send_with_header(ctx, "receiver_id of another system", receiver_id="not-this-ibr")
    yield from expect_refused(ctx, ex, "foreign receiver_id", code="err.receiver_id.invalid")


@REGISTRY.check(phase=Phase.SECURITY, profile=_IBR, requirements=("IBR-SEC-005",))
def sender_id_other_than_the_token_subject_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """header.sender_id of another system than the token's subject: 403 err.sender_id.invalid."""
    ex = _send_with_header(ctx, "sender_id is not the token subject", sender_id="someone-else")
    yield from expect_refused(
        ctx, ex, "foreign sender_id", status=403, code="err.sender_id.invalid"
    )
