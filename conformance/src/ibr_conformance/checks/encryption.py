"""Message encryption (IBR-ENC-*): an encrypted request is processed, garbage is refused."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ibr_conformance.checks import probes
from ibr_conformance.checks.expect import expect_refused, expect_succ
from ibr_conformance.context import CheckContext
from ibr_conformance.phases import Phase
from ibr_conformance.profiles import Profile
from ibr_conformance.registry import REGISTRY
from ibr_conformance.results import Failure
from ibr_protocol import encrypt_message

_IBR, _SEC = Profile.IBR, Phase.SECURITY


def encryption_key(ctx: CheckContext) -> dict[str, Any]:
    url = ctx.config.target_jwks_url or f"{ctx.config.root_url()}/.well-known/jwks.json"
    keys = ctx.target.get_json(url).get("keys", [])
    for key in keys:
        if isinstance(key, Mapping) and key.get("use") == "enc":
            return dict(key)
    ctx.skip("the target publishes no encryption key (use=enc) in its JWKS")


def encrypted_envelope(ctx: CheckContext, message: Any) -> dict[str, Any]:
    env = ctx.target.envelope("search", probes.search_request(), sign=False)
    env["header"]["is_msg_encrypted"] = True
    env["message"] = message
    return ctx.target.sign(env)  # encrypt, then sign (IBR-ENC-004)


@REGISTRY.check(
    phase=_SEC,
    profile=_IBR,
    requirements=("IBR-ENC-001", "IBR-ENC-002", "IBR-ENC-003", "IBR-ENC-004"),
    capability="encryption",
)
def encrypted_request_is_decrypted_and_processed(ctx: CheckContext) -> Iterator[Failure]:
    """A search encrypted (JWE) to the IBR's key, then signed, is answered."""
    key = encryption_key(ctx)
    encrypted = encrypt_message(probes.search_request(), key)
    ex = ctx.target.send("sync/search", encrypted_envelope(ctx, encrypted), note="encrypted")
    yield from expect_succ(ctx, ex, "encrypted search", requirements=["IBR-ENC-001"])


@REGISTRY.check(phase=_SEC, profile=_IBR, requirements=("IBR-ENC-006",), capability="encryption")
def undecryptable_message_is_refused(ctx: CheckContext) -> Iterator[Failure]:
    """An altered ciphertext is refused with HTTP 400 err.encryption.invalid."""
    key = encryption_key(ctx)
    encrypted = dict(encrypt_message(probes.search_request(), key))
    text = str(encrypted["ciphertext"])
    encrypted["ciphertext"] = ("A" if text[0] != "A" else "B") + text[1:]
    ex = ctx.target.send("sync/search", encrypted_envelope(ctx, encrypted), note="bad ciphertext")
    yield from expect_refused(
        ctx, ex, "altered ciphertext", status=400, code="err.encryption.invalid"
    )
