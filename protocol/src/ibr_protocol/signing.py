"""Envelope signatures: Ed25519 JWS, compact serialisation with a detached payload.

    signature = BASE64URL(protected) ".." BASE64URL(Ed25519 signature)
    protected = {"alg": "Ed25519", "kid": <key id>, "typ": "dci+jws"}
    payload   = RFC 8785 canonical JSON of {"header": header, "message": message}

The message signed is the one that travels: when it is encrypted, the EncryptedMessage is
signed (encrypt-then-sign). All cryptography is joserfc's; nothing here is hand-rolled.

`alg` is `EdDSA` with an Ed25519 key, as the spec's JWKS schema states. RFC 9864 renamed this
exact algorithm `Ed25519` (same keys, same signature bytes) and joserfc warns on the old name,
so the registry below runs the `Ed25519` implementation for both names; both are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc._rfc7515.model import JWSAlgModel
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64decode

from ibr_protocol.canonical_json import canonical_json
from ibr_protocol.clock import DEFAULT_WINDOW_SECONDS, check_message_ts, utc_now
from ibr_protocol.dci_signature import (
    is_dci_signature,
    is_placeholder_signature,
    verify_dci_signature,
)
from ibr_protocol.errors import ErrorCode, SignatureError
from ibr_protocol.replay import ReplayGuard, check_not_replayed

SIGNING_ALG = "EdDSA"
ACCEPTED_ALGS = frozenset({"Ed25519", "EdDSA"})
SIGNATURE_TYP = "dci+jws"
DCI_PLACEHOLDER_PREFIX = "Signature:"
"""How DCI's signature strings may start (`ibr_protocol.dci_signature` reads them)."""

Jwk = dict[str, Any]


class _Ed25519Registry(JWSRegistry):
    """Runs `EdDSA` (Ed25519 keys only) through joserfc's RFC 9864 `Ed25519` algorithm."""

    def get_alg(self, name: str) -> JWSAlgModel:
        return super().get_alg("Ed25519" if name == "EdDSA" else name)


_REGISTRY = _Ed25519Registry(algorithms=["Ed25519"])

KeyLookup = Callable[[str], Mapping[str, Any] | None]
"""Resolves a `kid` to a public JWK, or None when the key is unknown."""


def generate_signing_key(kid: str) -> Jwk:
    """A new Ed25519 private key as a JWK (keep it secret; publish `public_jwk` of it)."""
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid, "use": "sig", "alg": SIGNING_ALG})
    return dict(key.as_dict(private=True))


def public_jwk(private_jwk: Mapping[str, Any]) -> Jwk:
    """The public half of a JWK (drops the private parameter `d`)."""
    return {name: value for name, value in private_jwk.items() if name != "d"}


class Jwks:
    """A set of public keys by `kid`, as published on a JWKS endpoint."""

    def __init__(self, keys: Iterable[Mapping[str, Any]] = ()) -> None:
        self._keys: dict[str, Jwk] = {}
        for key in keys:
            self.add(key)

    def add(self, jwk: Mapping[str, Any]) -> None:
        """Add (or replace) a key; private parameters are dropped, `kid` is required."""
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ValueError("a JWK in a JWKS needs a non-empty string 'kid'")
        self._keys[kid] = public_jwk(jwk)

    def get(self, kid: str) -> Jwk | None:
        """The public JWK with this `kid`, or None."""
        return self._keys.get(kid)

    __call__ = get

    def as_dict(self) -> dict[str, list[Jwk]]:
        """The RFC 7517 JWK Set document: `{"keys": [...]}`."""
        return {"keys": list(self._keys.values())}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Jwks:
        """Read a JWK Set document."""
        return cls(document.get("keys", []))

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True)
class VerifiedSignature:
    """What a valid signature proved: which key signed, with which algorithm."""

    kid: str
    alg: str
    protected: dict[str, Any] = field(default_factory=dict)


def canonical_bytes(header: Mapping[str, Any], message: Any) -> bytes:
    """The signed payload: RFC 8785 (JCS) bytes of `{"header": ..., "message": ...}`."""
    return canonical_json({"header": header, "message": message})


def _import_okp(jwk: Mapping[str, Any], *, field_name: str) -> OKPKey:
    # `alg` is checked by us (EdDSA or Ed25519); joserfc would insist on its own name.
    material = {name: value for name, value in jwk.items() if name != "alg"}
    try:
        key = OKPKey.import_key(material)
    except (JoseError, ValueError, TypeError) as exc:
        raise SignatureError(
            f"the key is not an Ed25519 JWK: {exc}",
            reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value,
            field=field_name,
        ) from exc
    if key.curve_name != "Ed25519":
        raise SignatureError(
            f"the key curve is {key.curve_name}, not Ed25519",
            reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value,
            field=field_name,
        )
    return key


def sign_envelope(envelope: Mapping[str, Any], private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `envelope` with `signature` set; the input is not modified."""
    kid = private_jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("the signing JWK needs a non-empty string 'kid'")
    if "d" not in private_jwk:
        raise ValueError("the signing JWK is a public key (no 'd'); sign with the private key")
    key = _import_okp(private_jwk, field_name="private_jwk")
    protected = {"alg": SIGNING_ALG, "kid": kid, "typ": SIGNATURE_TYP}
    payload = canonical_bytes(envelope["header"], envelope["message"])
    compact = jws.serialize_compact(protected, payload, key, registry=_REGISTRY)
    head, _, signature = compact.split(".")
    return {
        "signature": f"{head}..{signature}",
        **{k: v for k, v in envelope.items() if k != "signature"},
    }


def _missing(message: str) -> SignatureError:
    return SignatureError(message, code=ErrorCode.SIGNATURE_MISSING, field="signature")


def _invalid(message: str, reason: ErrorCode) -> SignatureError:
    return SignatureError(
        message, code=ErrorCode.SIGNATURE_INVALID, reason=reason.value, field="signature"
    )


def _protected_header(signature: str) -> dict[str, Any]:
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise _invalid(
            "expected a JWS compact serialisation with a detached payload "
            "('<protected>..<signature>')",
            ErrorCode.SIGNATURE_MALFORMED,
        )
    try:
        protected = json_b64decode(parts[0].encode("ascii"))
    except (ValueError, UnicodeError) as exc:
        raise _invalid(
            f"the protected header is not base64url JSON: {exc}", ErrorCode.SIGNATURE_MALFORMED
        ) from exc
    if not isinstance(protected, dict):
        raise _invalid("the protected header is not a JSON object", ErrorCode.SIGNATURE_MALFORMED)
    if protected.get("alg") not in ACCEPTED_ALGS:
        raise _invalid(
            f"alg {protected.get('alg')!r} is not accepted; use {SIGNING_ALG}",
            ErrorCode.SIGNATURE_MALFORMED,
        )
    if protected.get("typ", SIGNATURE_TYP) != SIGNATURE_TYP:
        raise _invalid(
            f"typ {protected.get('typ')!r} is not {SIGNATURE_TYP!r}", ErrorCode.SIGNATURE_MALFORMED
        )
    kid = protected.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid("the protected header has no 'kid'", ErrorCode.SIGNATURE_MALFORMED)
    return protected


def verify_envelope(
    envelope: Mapping[str, Any],
    key_lookup: KeyLookup,
    *,
    dci_compat: bool = False,
    now: datetime | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> VerifiedSignature:
    """Verify the envelope's signature over its header and message.

    Two profiles (security profile section 3): our detached JWS, and DCI's signature string
    (`ibr_protocol.dci_signature`, its created/expires checked against `now` with
    `window_seconds` of clock skew). `key_lookup` resolves a `kid` to a public JWK (a `Jwks`
    works as is). Raises SignatureError with code `err.signature.missing` (absent, empty, or a
    DCI placeholder: DCI's example string, `unsigned`, `unsigned-stub`, which sign nothing) or
    `err.signature.invalid` (`.reason` says why: malformed, key_unknown, mismatch, expired).
    `dci_compat` is kept for callers of earlier versions; placeholders are "missing" either way
    (IBR-SIG-010).
    """
    del dci_compat
    signature = envelope.get("signature")
    if not isinstance(signature, str) and signature is not None:
        raise _invalid("signature must be a string", ErrorCode.SIGNATURE_MALFORMED)
    if is_placeholder_signature(signature):
        text = "the envelope has no signature"
        if signature:
            text = (
                f"the signature {signature.strip()[:40]!r} is a DCI placeholder that signs nothing"
            )
        raise _missing(f"{text}, and the security profile requires one")
    assert isinstance(signature, str)
    if is_dci_signature(signature):
        dci = verify_dci_signature(envelope, key_lookup, now=now, skew_seconds=window_seconds)
        return VerifiedSignature(kid=dci.key_id, alg=dci.algorithm, protected={"profile": "dci"})
    protected = _protected_header(signature)
    kid: str = protected["kid"]
    jwk = key_lookup(kid)
    if jwk is None:
        raise _invalid(f"no public key is known for kid {kid!r}", ErrorCode.SIGNATURE_KEY_UNKNOWN)
    key = _import_okp(jwk, field_name="signature")
    try:
        payload = canonical_bytes(envelope["header"], envelope["message"])
    except KeyError as exc:
        raise _invalid(
            f"the envelope has no {exc.args[0]!r}", ErrorCode.SIGNATURE_MALFORMED
        ) from exc
    try:
        jws.deserialize_compact(signature, key, registry=_REGISTRY, payload=payload)
    except JoseError as exc:
        raise _invalid(
            f"the signature does not match the header and message for kid {kid!r} ({exc.error})",
            ErrorCode.SIGNATURE_MISMATCH,
        ) from exc
    return VerifiedSignature(kid=kid, alg=protected["alg"], protected=protected)


def verify_request(
    envelope: Mapping[str, Any],
    *,
    key_lookup: KeyLookup,
    replay_guard: ReplayGuard,
    now: datetime | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    dci_compat: bool = False,
) -> VerifiedSignature:
    """The inbound security checks of the profile, in order: signature, time window, replay.

    The signature comes first so that unauthenticated traffic cannot fill the replay cache;
    ids are remembered for twice the window (security profile IBR-REPLAY-002).
    """
    verified = verify_envelope(
        envelope, key_lookup, dci_compat=dci_compat, now=now, window_seconds=window_seconds
    )
    header = envelope["header"]
    sent = check_message_ts(header.get("message_ts", ""), now=now, window_seconds=window_seconds)
    check_not_replayed(
        replay_guard,
        str(header.get("sender_id", "")),
        str(header.get("message_id", "")),
        max(sent, now or utc_now()) + timedelta(seconds=2 * window_seconds),
    )
    return verified
