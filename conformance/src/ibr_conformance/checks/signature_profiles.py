"""DCI's signature string beside our JWS (security profile 3b, IBR-SIG-015) and the per-client
signature policy (3c, IBR-SIG-016)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused, expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Failure
from ibr_conformance.target import Client
from ibr_protocol.dci_signature import sign_dci

_OP = "sync/search"
_IBR, _SEC = Profile.IBR, Phase.SECURITY


def _dci_signed(ctx: CheckContext, *, now: datetime | None = None) -> dict[str, Any]:
    """A search envelope carrying DCI's signature string by the suite's registered key."""
    key = ctx.target.signing_key
    if key is None:
        ctx.skip("no signing_key configured")
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    env["signature"] = sign_dci(env["header"], env["message"], key, now=now)
    return env


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-015",), capability="signing")
def dci_signature_string_is_verified_like_a_jws(ctx: CheckContext) -> Iterator[Failure]:
    """DCI's signature string by a registered key is accepted; tampered or expired, refused."""
    ok = ctx.target.send(_OP, _dci_signed(ctx), note="DCI signature string")
    yield from expect_succ(ctx, ok, "request with a DCI signature string")
    tampered = copy.deepcopy(_dci_signed(ctx))
    tampered["message"]["transaction_id"] = "tampered-after-signing"
    ex = ctx.target.send(_OP, tampered, note="DCI signature, message changed after signing")
    yield from expect_refused(
        ctx, ex, "tampered DCI-signed message", status=401, code="err.signature.invalid"
    )
    expired = _dci_signed(ctx, now=datetime.now(UTC) - timedelta(hours=2))
    ex = ctx.target.send(_OP, expired, note="DCI signature expired two hours ago")
    yield from expect_refused(
        ctx, ex, "expired DCI signature", status=401, code="err.signature.invalid"
    )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-016",), capability="signing")
def optional_signature_policy_still_verifies_what_is_signed(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """Policy optional: unsigned or placeholder-signed accepted, a bad signature still refused;
    the main client (default policy, required) is refused unsigned."""
    who = Client.SIGNATURE_OPTIONAL
    if not ctx.target.has_client(who) or not ctx.target.can_sign:
        ctx.skip(
            "needs a client registered with signature policy optional and the suite's key "
            "(optional_signature_client_id / optional_signature_client_secret, signing_key)"
        )
    unsigned = ctx.target.envelope("search", probes.search_request(), sign=False, who=who)
    ex = ctx.target.send(_OP, unsigned, who=who, note="no signature, policy optional")
    yield from expect_succ(ctx, ex, "unsigned request under the optional policy")
    placeholder = ctx.target.envelope("search", probes.search_request(), sign=False, who=who)
    placeholder["signature"] = "unsigned"
    ex = ctx.target.send(_OP, placeholder, who=who, note="placeholder signature, policy optional")
    yield from expect_succ(ctx, ex, "placeholder signature under the optional policy")
    tampered = copy.deepcopy(ctx.target.envelope("search", probes.search_request(), who=who))
    tampered["message"]["transaction_id"] = "tampered-after-signing"
    ex = ctx.target.send(_OP, tampered, who=who, note="bad signature, policy optional")
    yield from expect_refused(
        ctx,
        ex,
        "signature that does not verify under the optional policy",
        status=401,
        code="err.signature.invalid",
    )
    default = ctx.target.envelope("search", probes.search_request(), sign=False)
    ex = ctx.target.send(_OP, default, note="no signature, default policy")
    yield from expect_refused(
        ctx,
        ex,
        "unsigned request under the default policy",
        status=401,
        code="err.signature.missing",
    )
