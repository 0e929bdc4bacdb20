"""The sp-mis profile: the SP-MIS authenticates the IBR's callbacks (security profile §1).

The SP-MIS runs `POST /oauth2/client/token` for the IBR; the suite, playing the IBR, is its
client (`client_id`, default `ibr_id`, and `client_secret`, or a fixed `token`) and sends the
token on every callback. These checks break one rule at a time on a valid signed on-search and
expect the refusal of IBR-SEC-004/005, in the order of IBR-SEC-009. The generic token checks are
the IBR profile's (checks/security.py), run against the SP-MIS's endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ibr_conformance.checks import security
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.checks.spmis import callback, post_callback
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_conformance.target import Client

_SP, _SEC = Profile.SP_MIS, Phase.SECURITY
_ACTION = "on-search"


def _require_credentials(ctx: CheckContext) -> None:
    if not ctx.target.has_client(Client.PRIMARY):
        ctx.skip(
            "no client_secret (or token) configured for the SP-MIS's token endpoint "
            f"({ctx.target.token_url()}): the suite cannot authenticate as the IBR"
        )
    ctx.target.access_token()  # our credentials work, so a refusal is about the case at hand


def _send_on_search(ctx: CheckContext) -> security.SendWithToken:
    def send(token: str | None, note: str) -> Exchange:
        return post_callback(ctx, _ACTION, callback(ctx, _ACTION), token=token, note=note)

    return send


def _tampered(envelope: dict[str, Any]) -> dict[str, Any]:
    envelope["message"]["transaction_id"] = "changed-after-signing"
    return envelope


@REGISTRY.check(
    phase=_SEC,
    profile=_SP,
    requirements=("IBR-SEC-002", "IBR-SEC-003"),
    name="sp_mis_token_endpoint",
)
def sp_mis_token_endpoint_issues_short_lived_signed_jwts(ctx: CheckContext) -> Iterator[Failure]:
    """The SP-MIS token endpoint: form and JSON; shape; signed JWTs; no-store; bad secret 401."""
    yield from security.token_endpoint_failures(ctx)


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SEC-004", "IBR-ERR-001"))
def callback_without_token_is_refused_with_401(ctx: CheckContext) -> Iterator[Failure]:
    """A valid signed callback without a bearer token gets HTTP 401 err.request.unauthorized."""
    yield from security.missing_token_is_refused(ctx, _send_on_search(ctx))


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SEC-004",))
def callback_with_forged_or_expired_token_is_refused_with_401(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """Forged, alg-none, expired and garbage tokens on a callback each get HTTP 401."""
    _require_credentials(ctx)
    yield from security.forged_tokens_are_refused(ctx, _send_on_search(ctx))


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SEC-004",))
def callback_token_without_the_scope_is_refused_with_403(ctx: CheckContext) -> Iterator[Failure]:
    """A token granted only registry.notify, sent on on-search, gets 403 err.request.forbidden."""
    _require_credentials(ctx)
    if ctx.config.token:
        ctx.skip("a fixed token is configured; the suite cannot ask for a narrower scope")
    resp = ctx.target.request_token(scope="registry.notify")
    body = resp.json() if resp.status_code == 200 else {}
    granted = str(body.get("scope", "registry.notify")).split()
    if resp.status_code != 200 or "registry.on-search" in granted:
        ctx.skip(
            "the SP-MIS's token endpoint gives no token without registry.on-search "
            f"(HTTP {resp.status_code}, scope {granted}): no wrong-scope token to send"
        )
    ex = _send_on_search(ctx)(str(body["access_token"]), "token with scope registry.notify only")
    yield from expect_refused(ctx, ex, "wrong scope", status=403, code="err.request.forbidden")


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SEC-005",))
def callback_from_another_sender_than_the_token_is_refused(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """The IBR's valid token on a signed callback whose header.sender_id is someone else gets
    HTTP 403 err.sender_id.invalid."""
    _require_credentials(ctx)
    env = callback(ctx, _ACTION, sign=False)
    env["header"]["sender_id"] = "not-the-token-subject"
    ex = post_callback(ctx, _ACTION, ctx.target.sign(env), note="sender_id != token subject")
    yield from expect_refused(
        ctx, ex, "sender_id not the token's", status=403, code="err.sender_id.invalid"
    )


@REGISTRY.check(phase=_SEC, profile=_SP, requirements=("IBR-SEC-009",), capability="signing")
def callback_checks_come_in_order(ctx: CheckContext) -> Iterator[Failure]:
    """No token + bad signature -> 401 err.request.unauthorized; wrong sender + bad signature
    -> 403 err.sender_id.invalid; bad signature + stale message_ts -> err.signature.invalid."""
    _require_credentials(ctx)
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured: the suite cannot sign callbacks as the IBR")
    ex = post_callback(
        ctx, _ACTION, _tampered(callback(ctx, _ACTION)), token=None, note="no token + bad sig"
    )
    yield from expect_refused(
        ctx, ex, "no token and bad signature", status=401, code="err.request.unauthorized"
    )
    env = callback(ctx, _ACTION, sign=False)
    env["header"]["sender_id"] = "not-the-token-subject"
    ex = post_callback(
        ctx, _ACTION, _tampered(ctx.target.sign(env)), note="wrong sender + bad signature"
    )
    yield from expect_refused(
        ctx, ex, "wrong sender and bad signature", status=403, code="err.sender_id.invalid"
    )
    env = callback(ctx, _ACTION, sign=False)
    stale = datetime.now(UTC) - timedelta(hours=1)
    env["header"]["message_ts"] = stale.isoformat(timespec="seconds").replace("+00:00", "Z")
    ex = post_callback(
        ctx, _ACTION, _tampered(ctx.target.sign(env)), note="bad signature + stale message_ts"
    )
    yield from expect_refused(
        ctx, ex, "bad signature and stale message_ts", status=401, code="err.signature.invalid"
    )
