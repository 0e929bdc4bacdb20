"""The sp-mis profile, continued: the SP-MIS's keys, its request signatures, encrypted callbacks.

The JWKS is fetched from the SP-MIS itself (`target_jwks_url`, default
`<root>/.well-known/jwks.json`); request signatures are read from what the SP-MIS sent to the
mock IBR through the trigger API; encrypted callbacks need a use=enc key in that JWKS.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused
from ibr_conformance.checks.spmis import as_exchange, callback, post_callback, trigger_request
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Failure
from ibr_protocol import encrypt_message, generate_signing_key, sign_envelope

_SP, _SEC = Profile.SP_MIS, Phase.SECURITY

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
COMPACT_DETACHED = re.compile(r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$")
MAX_SAFE_INTEGER = 2**53 - 1
_ENC_KEYS = {("OKP", "ECDH-ES+A256KW"), ("RSA", "RSA-OAEP-256")}


def jwks_url(ctx: CheckContext) -> str:
    return ctx.config.target_jwks_url or f"{ctx.config.root_url()}/.well-known/jwks.json"


def _published_keys(ctx: CheckContext) -> list[Mapping[str, Any]]:
    body = ctx.target.get_json(jwks_url(ctx))
    keys = body.get("keys", []) if isinstance(body, Mapping) else []
    return [k for k in keys if isinstance(k, Mapping)]


def _rsa_bits(key: Mapping[str, Any]) -> int:
    n = str(key.get("n", ""))
    return len(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)).lstrip(b"\0")) * 8


def _key_problems(key: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    kid, use = key.get("kid"), key.get("use")
    if use == "sig":
        if (key.get("kty"), key.get("crv"), key.get("alg")) != ("OKP", "Ed25519", "EdDSA"):
            yield (
                "IBR-SIG-007",
                (
                    f"signing key {kid}: kty {key.get('kty')}, crv {key.get('crv')}, alg "
                    f"{key.get('alg')}; expected OKP Ed25519 EdDSA"
                ),
            )
    elif use == "enc":
        kind = (key.get("kty"), key.get("alg"))
        if kind not in _ENC_KEYS or (kind[0] == "OKP" and key.get("crv") != "X25519"):
            yield (
                "IBR-SIG-007",
                (
                    f"encryption key {kid}: kty {key.get('kty')}, crv {key.get('crv')}, alg "
                    f"{key.get('alg')}; expected X25519 ECDH-ES+A256KW or RSA RSA-OAEP-256"
                ),
            )
        elif kind[0] == "RSA" and _rsa_bits(key) < 2048:
            yield "IBR-SIG-007", f"encryption key {kid}: RSA of {_rsa_bits(key)} bits (< 2048)"
    else:
        yield "IBR-SIG-007", f"key {kid}: use {use!r} is neither sig nor enc"


@REGISTRY.check(
    phase=_SEC,
    profile=_SP,
    requirements=("IBR-SEC-008", "IBR-SIG-006", "IBR-SIG-007", "IBR-SIG-012"),
)
def sp_mis_jwks_is_public_with_unique_typed_keys(ctx: CheckContext) -> Iterator[Failure]:
    """GET /.well-known/jwks.json without a token: public keys only, typed right, unique kids."""
    url = jwks_url(ctx)
    resp = ctx.target.http.get(url)
    if resp.status_code != 200:
        yield ctx.failure(
            "JWKS not served without a token",
            f"GET {url} (no Authorization): HTTP {resp.status_code} {resp.text[:200]}",
            requirements=["IBR-SEC-008", "IBR-SIG-006"],
        )
        return
    try:
        body = resp.json()
    except ValueError:
        body = None
    for problem in probes.schema_problems(body, "api/jwks") or []:
        yield ctx.failure("JWKS breaks api/jwks", problem, requirements=["IBR-SIG-006"])
    listed = body.get("keys", []) if isinstance(body, Mapping) else []
    keys = [k for k in listed if isinstance(k, Mapping)]
    private = [k.get("kid") for k in keys if PRIVATE_MEMBERS & set(k)]
    if private:
        yield ctx.failure(
            "private key material published",
            f"keys {private} carry private members",
            requirements=["IBR-SEC-008"],
        )
    if not any(k.get("use") == "sig" for k in keys):
        yield ctx.failure(
            "no signing key published", "no use=sig key", requirements=["IBR-SIG-006"]
        )
    for key in keys:
        for rid, problem in _key_problems(key):
            yield ctx.failure("key of the wrong type", problem, requirements=[rid])
    kids = [k.get("kid") for k in keys]
    repeated = sorted({str(kid) for kid in kids if kids.count(kid) > 1})
    if repeated or None in kids:
        yield ctx.failure(
            "kid not unique",
            f"kids {repeated} appear more than once" if repeated else "a key has no kid",
            requirements=["IBR-SIG-012"],
        )


def _b64_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        return None


def _not_i_json(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        yield f"{path}: integer {value} is beyond the IEEE 754 double precision (2^53 - 1)"
    elif isinstance(value, float) and not math.isfinite(value):
        yield f"{path}: {value} is not a JSON number"
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield f"{path}: string holds an unpaired surrogate"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _not_i_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _not_i_json(item, f"{path}[{i}]")


def _signature_problems(signature: Any, sig_kids: set[str]) -> Iterator[tuple[str, str]]:
    if not isinstance(signature, str) or not COMPACT_DETACHED.match(signature):
        yield "IBR-SIG-002", f"signature {str(signature)[:80]!r} is not <protected>..<signature>"
        return
    protected = _b64_json(signature.split(".")[0])
    if not isinstance(protected, Mapping) or set(protected) != {"alg", "kid", "typ"}:
        members = sorted(protected) if isinstance(protected, Mapping) else protected
        yield "IBR-SIG-002", f"protected header members {members}; expected exactly alg, kid, typ"
        return
    if (protected["alg"], protected["typ"]) != ("EdDSA", "dci+jws"):
        yield "IBR-SIG-002", f"alg {protected['alg']!r}, typ {protected['typ']!r}"
    if protected["kid"] not in sig_kids:
        yield "IBR-SIG-006", f"kid {protected['kid']!r} is not a use=sig key of the SP-MIS's JWKS"


@REGISTRY.check(
    phase=_SEC,
    profile=_SP,
    requirements=("IBR-SIG-002", "IBR-SIG-013", "IBR-SIG-006"),
    capability="signing",
)
def sp_mis_requests_carry_a_detached_jws_over_i_json(ctx: CheckContext) -> Iterator[Failure]:
    """A search the SP-MIS sends: compact detached JWS {alg, kid, typ}, published kid, I-JSON."""
    _, got = trigger_request(ctx, "search")
    ex = as_exchange(got, "what the SP-MIS sent for trigger/search")
    body = got.body if isinstance(got.body, Mapping) else {}
    sig_kids = {str(k.get("kid")) for k in _published_keys(ctx) if k.get("use") == "sig"}
    for rid, problem in _signature_problems(body.get("signature"), sig_kids):
        yield ctx.failure(
            "request signature breaks the JWS profile", problem, evidence=[ex], requirements=[rid]
        )
    for problem in _not_i_json({k: body.get(k) for k in ("header", "message")}, "$"):
        yield ctx.failure(
            "request is not I-JSON", problem, evidence=[ex], requirements=["IBR-SIG-013"]
        )


# -- encrypted callbacks ---------------------------------------------------------------------------


def _encryption_key(ctx: CheckContext) -> dict[str, Any]:
    for key in _published_keys(ctx):
        if key.get("use") == "enc":
            return dict(key)
    ctx.skip("the SP-MIS publishes no encryption key (use=enc) in its JWKS")


def _encrypted_callback(
    ctx: CheckContext, *, break_schema: bool = False, alter: bool = False
) -> dict[str, Any]:
    """An on-search callback whose message is a JWE to the SP-MIS's key, signed afterwards."""
    env = callback(ctx, "on-search", sign=False)
    if break_schema:
        env["message"]["search_response"] = "not-a-list"
    encrypted = dict(encrypt_message(env["message"], _encryption_key(ctx)))
    if alter:
        text = str(encrypted["ciphertext"])
        encrypted["ciphertext"] = ("A" if text[0] != "A" else "B") + text[1:]
    env["header"]["is_msg_encrypted"] = True
    env["message"] = encrypted
    return env


@REGISTRY.check(
    phase=_SEC,
    profile=_SP,
    requirements=("IBR-ENC-001", "IBR-ENC-002", "IBR-ENC-003", "IBR-ENC-004", "IBR-ENC-007"),
    capability="encryption",
)
def encrypted_callback_is_decrypted_and_acknowledged(ctx: CheckContext) -> Iterator[Failure]:
    """An on-search encrypted (JWE, A256GCM) to the SP-MIS's key, then signed, is ACKed; one
    whose decrypted message breaks its schema is refused with err.request.bad."""
    env = ctx.target.sign(_encrypted_callback(ctx))
    ex = post_callback(ctx, "on-search", env, note="encrypted on-search")
    msg = probes.ack_message(ex) or {}
    if ex.status != 200 or msg.get("ack_status") != "ACK":
        yield ctx.failure(
            "encrypted callback not acknowledged",
            f"HTTP {ex.status}, ack_status {msg.get('ack_status')!r} "
            f"({str(ex.response_body)[:300]})",
            evidence=[ex],
            requirements=["IBR-ENC-001", "IBR-ENC-002", "IBR-ENC-003", "IBR-ENC-004"],
        )
    bad = ctx.target.sign(_encrypted_callback(ctx, break_schema=True))
    ex = post_callback(ctx, "on-search", bad, note="encrypted, schema-invalid inside")
    yield from expect_refused(
        ctx,
        ex,
        "encrypted schema-invalid on-search",
        status=400,
        code="err.request.bad",
        requirements=["IBR-ENC-007"],
    )


@REGISTRY.check(
    phase=_SEC, profile=_SP, requirements=("IBR-ENC-006", "IBR-ENC-007"), capability="encryption"
)
def undecryptable_callback_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """An altered ciphertext is 400 err.encryption.invalid; with a forged signature as well, the
    signature is refused first (401 err.signature.invalid)."""
    env = ctx.target.sign(_encrypted_callback(ctx, alter=True))
    ex = post_callback(ctx, "on-search", env, note="altered ciphertext")
    yield from expect_refused(
        ctx,
        ex,
        "altered ciphertext",
        status=400,
        code="err.encryption.invalid",
        requirements=["IBR-ENC-006"],
    )
    stranger = generate_signing_key(ctx.target.signing_kid or "unknown")
    forged = sign_envelope(_encrypted_callback(ctx, alter=True), stranger)
    ex = post_callback(ctx, "on-search", forged, note="altered ciphertext, foreign signature")
    yield from expect_refused(
        ctx,
        ex,
        "altered ciphertext under a forged signature",
        status=401,
        code="err.signature.invalid",
        requirements=["IBR-ENC-007"],
    )
