"""Authentication, signing, replay, clock and hostile-input cases; each tied to a requirement."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.jwk import OctKey

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Exchange, Failure
from ibr_conformance.target import Client
from ibr_protocol import build_request, canonical_bytes, generate_signing_key, sign_envelope

_OP = "sync/search"
_IBR, _SEC = Profile.IBR, Phase.SECURITY

# Syntactically valid JWTs the target never issued: accepting one means tokens are not verified.
_FORGED_TOKENS = {
    "forged HS256": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJjb25mb3JtYW5jZSIsInNjb3BlIjoiaWJyLnNlYXJjaCIsImV4cCI6NDEwMjQ0NDgwMH0."
    "q1Yq5mJcWcOBNlVz8B3f0a6N4S2wQWcnR4xq8KZ0n3E",
    "alg none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
    "eyJzdWIiOiJjb25mb3JtYW5jZSIsImV4cCI6NDEwMjQ0NDgwMH0.",
    "expired": "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJjb25mb3JtYW5jZSIsImV4cCI6MTAwMDAwMDAwMH0."
    "c2lnbmF0dXJlLW9mLWFuLWV4cGlyZWQtdG9rZW4",
    "garbage": "not-a-token",
}


def _valid(ctx: CheckContext) -> dict[str, Any]:
    return ctx.target.envelope("search", probes.search_request())


def _require_signing(ctx: CheckContext) -> None:
    if not ctx.target.can_sign:
        ctx.skip("no signing_key configured")


SendWithToken = Callable[[str | None, str], Exchange]
"""(bearer token or None, note) -> the exchange of one valid, signed message to the target."""


def missing_token_is_refused(ctx: CheckContext, send: SendWithToken) -> Iterator[Failure]:
    """Failures unless a valid message without a bearer token gets 401 err.request.unauthorized."""
    ex = send(None, "no Authorization header")
    yield from expect_refused(ctx, ex, "no token", status=401, code="err.request.unauthorized")


def forged_tokens_are_refused(ctx: CheckContext, send: SendWithToken) -> Iterator[Failure]:
    """Failures unless forged, alg-none, expired and garbage tokens each get 401."""
    for label, token in _FORGED_TOKENS.items():
        ex = send(token, f"{label} token")
        yield from expect_refused(
            ctx, ex, f"{label} token", status=401, code="err.request.unauthorized"
        )


def _send_search(ctx: CheckContext) -> SendWithToken:
    return lambda token, note: ctx.target.send(_OP, _valid(ctx), token=token, note=note)


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-004", "IBR-ERR-001"))
def request_without_token_is_refused_with_401(ctx: CheckContext) -> Iterator[Failure]:
    """A request without a bearer token is refused with HTTP 401 err.request.unauthorized."""
    ctx.target.access_token()  # our credentials work, so a refusal is about the missing token
    yield from missing_token_is_refused(ctx, _send_search(ctx))


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-004",))
def forged_or_expired_token_is_refused_with_401(ctx: CheckContext) -> Iterator[Failure]:
    """Forged, alg-none, expired and garbage tokens are each refused with HTTP 401."""
    ctx.target.access_token()  # the suite's own credentials work, so a refusal means the token
    yield from forged_tokens_are_refused(ctx, _send_search(ctx))


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-004",))
def token_without_the_scope_is_refused_with_403(ctx: CheckContext) -> Iterator[Failure]:
    """A token without the operation's scope is refused with 403 err.request.forbidden."""
    if not ctx.target.has_client(Client.LIMITED):
        ctx.skip("no limited client configured (limited_client_id / limited_client_secret)")
    env = ctx.target.envelope("search", probes.search_request(), who=Client.LIMITED)
    ex = ctx.target.send(_OP, env, who=Client.LIMITED, note="client without the search scope")
    yield from expect_refused(ctx, ex, "wrong scope", status=403, code="err.request.forbidden")


def token_endpoint_failures(ctx: CheckContext) -> Iterator[Failure]:
    """Token endpoint: form and JSON; the answer's shape; signed JWTs with the claims; no-store;
    no refresh token; a wrong secret gets 401 (IBR-SEC-002, IBR-SEC-003)."""
    if ctx.config.token or not ctx.target.has_client(Client.PRIMARY):
        ctx.skip("no client credentials (client_id / client_secret) to exercise the endpoint")
    for kind in ("form", "json"):
        resp = ctx.target.request_token(as_json=kind == "json")
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        if resp.status_code != 200 or not isinstance(body, Mapping):
            yield ctx.failure(
                f"{kind} token request refused",
                f"POST {ctx.target.token_url()} ({kind}): HTTP {resp.status_code} "
                f"{resp.text[:200]}",
                requirements=["IBR-SEC-002"],
            )
            continue
        if str(body.get("token_type", "")).lower() != "bearer" or not isinstance(
            body.get("expires_in"), int
        ):
            yield ctx.failure(
                "token response of the wrong shape",
                f"token_type {body.get('token_type')!r}, expires_in {body.get('expires_in')!r}; "
                "expected Bearer and an integer number of seconds",
                requirements=["IBR-SEC-002"],
            )
        if "no-store" not in resp.headers.get("cache-control", ""):
            yield ctx.failure(
                "token response cacheable",
                f"Cache-Control {resp.headers.get('cache-control')!r}, expected no-store",
                requirements=["IBR-SEC-003"],
            )
        if "refresh_token" in body:
            yield ctx.failure(
                "refresh token issued",
                "client credentials get no refresh token",
                requirements=["IBR-SEC-003"],
            )
        yield from _jwt_claims(ctx, str(body.get("access_token", "")))
    wrong = ctx.target.request_token(secret="not-the-secret-" + probes.fresh_id())
    if wrong.status_code != 401:
        yield ctx.failure(
            "wrong client secret not refused with 401",
            f"HTTP {wrong.status_code} {wrong.text[:200]}; RFC 6749 §5.2 invalid_client is 401",
            requirements=["IBR-SEC-002"],
        )


@REGISTRY.check(
    phase=_SEC, profile=_IBR, requirements=("IBR-SEC-002", "IBR-SEC-003"), name="token_endpoint"
)
def token_endpoint_issues_short_lived_signed_jwts(ctx: CheckContext) -> Iterator[Failure]:
    """Token endpoint: form and JSON; signed JWTs with the claims; no-store; no refresh."""
    yield from token_endpoint_failures(ctx)


def _jwt_claims(ctx: CheckContext, token: str) -> Iterator[Failure]:
    parts = token.split(".")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
    except (IndexError, ValueError):
        yield ctx.failure(
            "access token is not a JWT", f"{len(parts)} parts", requirements=["IBR-SEC-003"]
        )
        return
    missing = {"iss", "sub", "aud", "exp", "iat", "jti", "scope"} - set(claims)
    if missing:
        yield ctx.failure(
            "token claims missing", f"missing {sorted(missing)}", requirements=["IBR-SEC-003"]
        )
    if str(header.get("alg", "none")).lower() == "none" or len(parts) != 3 or not parts[2]:
        yield ctx.failure("token is unsigned", f"header {header}", requirements=["IBR-SEC-003"])
    lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
    if lifetime > 3600:
        yield ctx.failure(
            "token lives too long",
            f"exp - iat = {lifetime} s (max 3600)",
            requirements=["IBR-SEC-003"],
        )
    client_id = ctx.target.client_id()
    if claims.get("sub") != client_id:
        yield ctx.failure(
            "token subject is not the client",
            f"sub {claims.get('sub')!r} != client_id {client_id!r}",
            requirements=["IBR-SEC-003"],
        )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEC-004",), capability="callback-auth")
def callbacks_carry_a_token_the_receiver_issued(ctx: CheckContext) -> Iterator[Failure]:
    """The IBR fetches a token at the receiver's token endpoint (callback_client_id/secret) and
    sends it as Authorization: Bearer on its callbacks, with the callback's scope."""
    rx = ctx.require_receiver()
    if not rx.issues_tokens:
        ctx.skip(
            "no callback_client_secret configured: register the suite's client at the IBR "
            f"with callback token URL {rx.token_url} and that secret to check callback tokens"
        )
    if not ctx.claims("async"):
        ctx.skip("capability 'async' not claimed: the IBR sends no callbacks")
    uri = f"{rx.url}{ctx.config.registry_prefix}/on-search"
    env = ctx.target.envelope("search", probes.search_request(), sender_uri=uri)
    txn = env["message"]["transaction_id"]
    ex = ctx.target.send("search", env, note="async search to get a callback")
    if probes.is_rejected(ex):
        ctx.skip(f"the async search was refused (HTTP {ex.status}); no callback to inspect")
    got = rx.wait_for(
        lambda cb: (
            isinstance(cb.body, Mapping)
            and isinstance(cb.body.get("message"), Mapping)
            and cb.body["message"].get("transaction_id") == txn
        ),
        timeout=ctx.config.callback_timeout,
    )
    if not got:
        ctx.skip(f"no on-search callback arrived within {ctx.config.callback_timeout} s")
    for cb in got:
        problem = rx.token_problem(cb)
        if problem:
            yield ctx.failure(
                "callback without a valid bearer token",
                f"{cb.path}: {problem} (tokens issued by the receiver: {rx.tokens_issued})",
                evidence=[ex],
            )


@REGISTRY.check(
    phase=_SEC, profile=_IBR, requirements=("IBR-SEC-008", "IBR-SIG-006", "IBR-SIG-007")
)
def jwks_is_public_and_lists_only_public_keys(ctx: CheckContext) -> Iterator[Failure]:
    """GET /.well-known/jwks.json answers without a token with public Ed25519 (and enc) keys."""
    url = ctx.config.target_jwks_url or f"{ctx.config.root_url()}/.well-known/jwks.json"
    resp = ctx.target.http.get(url)
    if resp.status_code != 200:
        yield ctx.failure(
            "JWKS not served",
            f"GET {url}: HTTP {resp.status_code}",
            requirements=["IBR-SEC-008", "IBR-SIG-006"],
        )
        return
    keys = resp.json().get("keys", []) if isinstance(resp.json(), Mapping) else []
    for problem in probes.schema_problems(resp.json(), "api/jwks") or []:
        yield ctx.failure("JWKS breaks api/jwks", problem, requirements=["IBR-SIG-006"])
    private = [k.get("kid") for k in keys if {"d", "p", "q", "k"} & set(k)]
    if private:
        yield ctx.failure(
            "private key material published", f"keys {private}", requirements=["IBR-SEC-008"]
        )
    sig = [k for k in keys if k.get("use") == "sig"]
    if not sig:
        yield ctx.failure(
            "no signing key published", "no use=sig key", requirements=["IBR-SIG-006"]
        )
    for key in sig:
        if (key.get("kty"), key.get("crv"), key.get("alg")) != ("OKP", "Ed25519", "EdDSA"):
            yield ctx.failure(
                "signing key of the wrong type",
                f"kid {key.get('kid')}: kty {key.get('kty')}, crv {key.get('crv')}, "
                f"alg {key.get('alg')}; expected OKP Ed25519 EdDSA",
                requirements=["IBR-SIG-007"],
            )


@REGISTRY.check(
    phase=_SEC,
    profile=_IBR,
    requirements=("IBR-SIG-001", "IBR-SIG-002", "IBR-SIG-005"),
    capability="signing",
)
def sync_responses_are_signed_and_verify(ctx: CheckContext) -> Iterator[Failure]:
    """Each sync response carries a detached EdDSA JWS over JCS(header, message) that verifies."""
    from ibr_protocol import IbrProtocolError, Jwks, verify_envelope

    ex = ctx.target.send(_OP, _valid(ctx))
    body = probes.body_of(ex)
    signature = body.get("signature")
    if not isinstance(signature, str) or not signature:
        yield ctx.failure(
            "unsigned response",
            "the sync response has no signature",
            evidence=[ex],
            requirements=["IBR-SIG-005"],
        )
        return
    head, _, rest = signature.partition("..")
    try:
        protected = json.loads(base64.urlsafe_b64decode(head + "=="))
    except ValueError:
        protected = None
    if not rest or not isinstance(protected, dict) or set(protected) != {"alg", "kid", "typ"}:
        yield ctx.failure(
            "signature is not a detached compact JWS",
            f"protected header {protected!r}",
            evidence=[ex],
            requirements=["IBR-SIG-002"],
        )
    elif protected["alg"] != "EdDSA" or protected["typ"] != "dci+jws":
        yield ctx.failure(
            "wrong protected header", f"{protected!r}", evidence=[ex], requirements=["IBR-SIG-002"]
        )
    url = ctx.config.target_jwks_url or f"{ctx.config.root_url()}/.well-known/jwks.json"
    jwks = Jwks.from_dict(ctx.target.get_json(url))
    try:
        verify_envelope(dict(body), jwks.get)
    except IbrProtocolError as exc:
        yield ctx.failure(
            "response signature does not verify",
            str(exc),
            evidence=[ex],
            requirements=["IBR-SIG-001"],
        )


@REGISTRY.check(
    phase=_SEC, profile=_IBR, requirements=("IBR-SIG-005", "IBR-ERR-001"), capability="signing"
)
def unsigned_request_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A request without a signature is refused with HTTP 401 err.signature.missing."""
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    ex = ctx.target.send(_OP, env, note="no signature")
    yield from expect_refused(ctx, ex, "unsigned request", status=401, code="err.signature.missing")


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-003",), capability="signing")
def tampered_message_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A message changed after signing is refused with HTTP 401 err.signature.invalid."""
    _require_signing(ctx)
    tampered = copy.deepcopy(_valid(ctx))
    tampered["message"]["transaction_id"] = "tampered-after-signing"
    ex = ctx.target.send(_OP, tampered, note="message changed after signing")
    yield from expect_refused(ctx, ex, "tampered message", status=401, code="err.signature.invalid")


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-004",), capability="signing")
def signature_by_an_unregistered_key_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A signature by a key not registered for the sender is err.signature.invalid (key_unknown)."""
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    stranger = sign_envelope(env, generate_signing_key("conformance-unregistered-key"))
    ex = ctx.target.send(_OP, stranger, note="signed with an unregistered key")
    yield from expect_refused(
        ctx, ex, "unregistered key", status=401, code="err.signature.invalid", reason="key_unknown"
    )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-010",), capability="signing")
def dci_placeholder_signature_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """The DCI example 'Signature: namespace=...' string is refused by a strict receiver."""
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    env["signature"] = 'Signature:  namespace="dci", kidId="x|y|ed25519", algorithm="ed25519"'
    ex = ctx.target.send(_OP, env, note="DCI placeholder signature")
    yield from expect_refused(ctx, ex, "placeholder signature", status=401)


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SIG-011",), capability="signing")
def signature_with_another_algorithm_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A JWS with alg HS256 (a shared-secret algorithm) is refused."""
    _require_signing(ctx)
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    kid = str(ctx.target.signing_kid)
    key = OctKey.generate_key(256)
    payload = canonical_bytes(env["header"], env["message"])
    compact = jws.serialize_compact(
        {"alg": "HS256", "kid": kid, "typ": "dci+jws"}, payload, key, algorithms=["HS256"]
    )
    head, _, sig = compact.split(".")
    ex = ctx.target.send(_OP, {**env, "signature": f"{head}..{sig}"}, note="alg HS256")
    yield from expect_refused(ctx, ex, "HS256 signature", status=401, code="err.signature.invalid")


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-REPLAY-002",), capability="signing")
def replayed_message_id_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """The same signed message sent twice: the second is err.request.bad (message_id.duplicate)."""
    env = _valid(ctx)
    first = ctx.target.send(_OP, env, note="original")
    if probes.is_rejected(first):
        ctx.skip(f"the original request was refused (HTTP {first.status}); cannot test replay")
    second = ctx.target.send(_OP, env, note="replay of the same message_id")
    yield from expect_refused(
        ctx, second, "replayed message_id", code="err.request.bad", reason="message_id.duplicate"
    )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-REPLAY-001",), capability="signing")
def stale_message_ts_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """A signed request whose message_ts is an hour old or ahead is err.request.bad."""
    for label, delta in (
        ("an hour old", timedelta(hours=-1)),
        ("an hour ahead", timedelta(hours=1)),
    ):
        env = build_request(
            action="search",
            message=probes.search_request(),
            sender_id=ctx.config.effective_sender_id(),
            receiver_id=ctx.config.receiver_id,
            now=datetime.now(UTC) + delta,
        )
        ex = ctx.target.send(_OP, ctx.target.sign(env), note=f"message_ts {label}")
        yield from expect_refused(
            ctx, ex, f"message_ts {label}", code="err.request.bad", reason="message_ts.invalid"
        )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-CB-002",), capability="async")
def callback_to_an_unregistered_host_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """An async request whose sender_uri is a private/metadata host not registered is refused."""
    for uri in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.1/registry/on-search"):
        env = ctx.target.envelope("search", probes.search_request(), sender_uri=uri)
        ex = ctx.target.send("search", env, note=f"sender_uri {uri}")
        yield from expect_refused(ctx, ex, f"sender_uri {uri}", code="err.sender_uri.invalid")


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-ENV-007", "IBR-ERR-001"))
def oversized_body_is_refused_with_413(ctx: CheckContext) -> Iterator[Failure]:
    """A body larger than the limit is refused with HTTP 413, never a 5xx."""
    env = _valid(ctx)
    env["padding"] = "x" * ctx.config.max_body_bytes
    ex = ctx.target.send(_OP, None, raw=json.dumps(env).encode(), note="oversized body")
    yield from expect_refused(ctx, ex, "oversized body", status=413)


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-ENV-004",))
def deeply_nested_json_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """JSON nested 5000 levels deep is refused with HTTP 400 err.request.bad, never a 5xx."""
    depth = 5000
    nested = ("[" * depth) + ("]" * depth)
    raw = json.dumps(_valid(ctx)).replace(
        '"search_request": [', f'"search_request": [{nested}, ', 1
    )
    ex = ctx.target.send(_OP, None, raw=raw.encode(), note=f"{depth} nested arrays")
    yield from expect_refused(ctx, ex, "deeply nested JSON", status=400, code="err.request.bad")


_INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE beneficiary;--",
    '{"$ne": null}',
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "%00",
)


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEARCH-001", "IBR-SEARCH-006"))
def injection_strings_in_query_values_match_nothing(ctx: CheckContext) -> Iterator[Failure]:
    """Injection strings as idtype-value query values are answered succ with no records."""
    for text in _INJECTIONS:
        env = ctx.target.envelope("search", probes.search_request(text))
        ex = ctx.target.send(_OP, env, note=f"query value {text!r}")
        if ex.status != 200:
            yield ctx.failure(
                "injection string not handled as data",
                f"value {text!r}: HTTP {ex.status}",
                evidence=[ex],
                requirements=["IBR-SEARCH-001"],
            )
            continue
        found = probes.records(ex)
        if found:
            yield ctx.failure(
                "injection matched records",
                f"value {text!r} returned {len(found)} record(s)",
                evidence=[ex],
                requirements=["IBR-SEARCH-006"],
            )


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-SEARCH-002", "IBR-ERR-005"))
def injection_strings_as_attribute_names_are_rejected_per_item(
    ctx: CheckContext,
) -> Iterator[Failure]:
    """An attribute name outside api/query_attribute is a per-item rjct, not an HTTP error."""
    for text in ("name; DROP TABLE beneficiary", "__class__", "programme_identifier OR 1=1"):
        env = ctx.target.envelope("search", probes.predicate_search_request(text, "x"))
        ex = ctx.target.send(_OP, env, note=f"attribute name {text!r}")
        found = probes.items(ex, "search_response")
        if ex.status is not None and ex.status >= 500:
            yield ctx.failure(
                "attribute name crashed the server",
                f"{text!r}: HTTP {ex.status}",
                evidence=[ex],
                requirements=["IBR-ERR-005"],
            )
        elif probes.is_rejected(ex) and ex.status == 400 and not found:
            # Schema-level refusal of the whole request is allowed when the attribute name
            # breaks api/query_attribute's pattern; the item rule applies to valid-looking names.
            continue
        elif not found or found[0].get("status") != "rjct":
            yield ctx.failure(
                "unknown attribute not rejected",
                f"{text!r}: item status {[i.get('status') for i in found]}",
                evidence=[ex],
                requirements=["IBR-SEARCH-002"],
            )
        elif found[0].get("status_reason_code") != "rjct.search_criteria.invalid":
            yield ctx.failure(
                "wrong reason for an unknown attribute",
                f"{found[0].get('status_reason_code')!r}, expected rjct.search_criteria.invalid",
                evidence=[ex],
                requirements=["IBR-SEARCH-002"],
            )
