"""The order in which a receiver checks an inbound message (IBR-SEC-009, IBR-ENC-007).

Each case breaks two rules at once and expects the error of the rule that comes first:
access token, sender binding, signature, time window, replay, decryption, schema.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.encryption import encrypted_envelope, encryption_key
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Failure
from ibr_protocol import build_request, encrypt_message

_IBR, _SEC = Profile.IBR, Phase.SECURITY
_OP = "sync/search"
_FORGED_TOKEN = "not-a-token-this-ibr-issued"  # noqa: S105 - deliberately invalid


def _tampered(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with its message changed after signing (signature no longer verifies)."""
    out = copy.deepcopy(envelope)
    out["message"]["transaction_id"] = "tampered-after-signing"
    return out


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-009",), capability="signing")
def token_then_signature_errors_come_first(ctx: CheckContext) -> Iterator[Failure]:
    """Forged token + bad signature -> the token error (401 err.request.unauthorized);
    bad signature + stale message_ts -> the signature error (401 err.signature.invalid)."""
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured")
    ctx.target.access_token()  # our credentials work, so a 401 is about the forged token
    bad_sig = _tampered(ctx.target.envelope("search", probes.search_request()))
    ex = ctx.target.send(_OP, bad_sig, token=_FORGED_TOKEN, note="forged token + bad signature")
    yield from expect_refused(
        ctx, ex, "forged token and bad signature", status=401, code="err.request.unauthorized"
    )

    stale = build_request(
        action="search",
        message=probes.search_request(),
        sender_id=ctx.config.effective_sender_id(),
        receiver_id=ctx.config.receiver_id,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    ex = ctx.target.send(
        _OP, _tampered(ctx.target.sign(stale)), note="bad signature + stale message_ts"
    )
    yield from expect_refused(
        ctx, ex, "bad signature and stale message_ts", status=401, code="err.signature.invalid"
    )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-009",), capability="signing")
def time_window_is_checked_before_the_schema(ctx: CheckContext) -> Iterator[Failure]:
    """A signed request with a stale message_ts and a schema-invalid message gets the
    time-window error (reason message_ts.invalid), not the schema error."""
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured")
    stale = build_request(
        action="search",
        message={"transaction_id": probes.fresh_id(), "search_request": "not-a-list"},
        sender_id=ctx.config.effective_sender_id(),
        receiver_id=ctx.config.receiver_id,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    ex = ctx.target.send(_OP, ctx.target.sign(stale), note="stale message_ts + invalid message")
    yield from expect_refused(
        ctx,
        ex,
        "stale message_ts and invalid message",
        code="err.request.bad",
        reason="message_ts.invalid",
    )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-ENC-007",), capability="encryption")
def signature_is_verified_before_decrypting_and_plaintext_is_validated(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """Bad signature + bad ciphertext -> err.signature.invalid (verify first); a well-signed
    message that decrypts to a schema-invalid search -> err.request.bad (validate after)."""
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured")
    key = encryption_key(ctx)
    encrypted = dict(encrypt_message(probes.search_request(), key))
    text = str(encrypted["ciphertext"])
    encrypted["ciphertext"] = ("A" if text[0] != "A" else "B") + text[1:]
    env = encrypted_envelope(ctx, encrypted)
    env["header"]["message_id"] = probes.fresh_id()  # changed after signing
    ex = ctx.target.send(_OP, env, note="bad signature + bad ciphertext")
    yield from expect_refused(
        ctx, ex, "bad signature and bad ciphertext", status=401, code="err.signature.invalid"
    )

    invalid = {"transaction_id": probes.fresh_id(), "search_request": "not-a-list"}
    env = encrypted_envelope(ctx, encrypt_message(invalid, key))
    ex = ctx.target.send(_OP, env, note="encrypted schema-invalid search")
    yield from expect_refused(
        ctx, ex, "decrypted message breaks the schema", status=400, code="err.request.bad"
    )
