"""DCI's `Signature` string: the second signature profile (security profile section 3b).

What DCI-era SP-MIS (OpenSPP 2's DCI client among them) put in the envelope's `signature`:

    namespace="dci", kidId="<sender_id>|<key_id>|ed25519", algorithm="ed25519",
    created="<unix s>", expires="<unix s>", headers="(created) (expires) digest",
    signature="<base64 Ed25519 signature>"

optionally prefixed with `Signature:`. The signed bytes are the UTF-8 of

    (created): <created>\\n(expires): <expires>\\ndigest: <digest>

where `digest` = base64(SHA-256(sorted-keys JSON of {"header": header, "message": message})),
the JSON written as Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))` does
(ASCII only, `\\uXXXX` escapes). Base64 is the standard alphabet with padding (RFC 4648 §4).

DCI's own example of this string, and the values `unsigned` and `unsigned-stub` that DCI test
kits send, sign nothing: `is_placeholder_signature` names them so that receivers treat them as
no signature at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ibr_protocol.clock import DEFAULT_WINDOW_SECONDS, utc_now
from ibr_protocol.errors import ErrorCode, SignatureError

DCI_ALGORITHM = "ed25519"
DCI_SIGNED_HEADERS = "(created) (expires) digest"
DCI_DEFAULT_LIFETIME_SECONDS = 300
DCI_MAX_LIFETIME_SECONDS = 3600
"""A signature's `expires - created` may not exceed this (a longer-lived one is malformed)."""

_PREFIX = re.compile(r"^\s*signature\s*:\s*", re.IGNORECASE)
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"?|([^\s,]+))')
_PLACEHOLDER_WORDS = frozenset({"unsigned", "unsigned-stub"})
_REQUIRED = ("kidId", "algorithm", "created", "expires", "headers", "signature")


@dataclass(frozen=True)
class DciSignature:
    """The parameters of one DCI signature string."""

    namespace: str | None
    sender_id: str
    key_id: str
    algorithm: str
    created: int
    expires: int
    signature: bytes


def _params(value: str) -> dict[str, str]:
    text = _PREFIX.sub("", value, count=1)
    return {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(text)
    }


def is_placeholder_signature(value: Any) -> bool:
    """True for "no signature" spellings: absent, `""`, `unsigned`, `unsigned-stub`, and DCI's
    example string (its `signature` parameter is the literal `Base64(...)`, or its `kidId` is
    the template `{sender_id}|...`)."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    if text == "" or text.lower() in _PLACEHOLDER_WORDS:
        return True
    params = _params(text)
    return params.get("signature", "").startswith("Base64(") or params.get("kidId", "").startswith(
        "{"
    )


def is_dci_signature(value: Any) -> bool:
    """True when `value` is written as a DCI signature string (it names a `kidId`)."""
    return isinstance(value, str) and "kidId" in _params(value)


def _malformed(message: str) -> SignatureError:
    return SignatureError(
        f"DCI signature string: {message}",
        code=ErrorCode.SIGNATURE_INVALID,
        reason=ErrorCode.SIGNATURE_MALFORMED.value,
        field="signature",
    )


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"{what} is not standard base64") from exc


def parse_dci_signature(value: str) -> DciSignature:
    """Read a DCI signature string; raises SignatureError (`err.signature.malformed`)."""
    params = _params(value)
    missing = [name for name in _REQUIRED if not params.get(name)]
    if missing:
        raise _malformed(f"missing parameter(s) {', '.join(missing)}")
    if params["algorithm"].lower() != DCI_ALGORITHM:
        raise _malformed(f"algorithm {params['algorithm']!r} is not accepted; use ed25519")
    if " ".join(params["headers"].split()) != DCI_SIGNED_HEADERS:
        raise _malformed(f'headers must be "{DCI_SIGNED_HEADERS}", got {params["headers"]!r}')
    parts = params["kidId"].split("|")
    if len(parts) != 3 or not all(parts) or parts[2].lower() != DCI_ALGORITHM:
        raise _malformed('kidId must be "<sender_id>|<key_id>|ed25519"')
    try:
        created, expires = int(params["created"]), int(params["expires"])
    except ValueError as exc:
        raise _malformed("created and expires must be Unix seconds") from exc
    if not 0 < expires - created <= DCI_MAX_LIFETIME_SECONDS:
        raise _malformed(
            f"expires must be after created by at most {DCI_MAX_LIFETIME_SECONDS} s "
            f"(got {expires - created} s)"
        )
    signature = _b64decode(params["signature"], "signature")
    if len(signature) != 64:
        raise _malformed(f"an Ed25519 signature has 64 bytes, this one {len(signature)}")
    return DciSignature(
        namespace=params.get("namespace"),
        sender_id=parts[0],
        key_id=parts[1],
        algorithm=DCI_ALGORITHM,
        created=created,
        expires=expires,
        signature=signature,
    )


def dci_digest(header: Mapping[str, Any], message: Any) -> str:
    """base64(SHA-256(sorted-keys compact ASCII JSON of {"header", "message"}))."""
    text = json.dumps({"header": header, "message": message}, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def dci_signing_string(created: int, expires: int, digest: str) -> bytes:
    """The bytes the Ed25519 signature covers."""
    return f"(created): {created}\n(expires): {expires}\ndigest: {digest}".encode()


def _b64url(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"the JWK has no {what}")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_dci(
    header: Mapping[str, Any],
    message: Any,
    private_jwk: Mapping[str, Any],
    *,
    now: datetime | None = None,
    lifetime_seconds: int = DCI_DEFAULT_LIFETIME_SECONDS,
    namespace: str = "dci",
) -> str:
    """The DCI signature string for `{header, message}`, signed with an Ed25519 private JWK.

    `kidId` is `<header.sender_id>|<the JWK's kid>|ed25519`, so the receiver finds the key by
    `kid` in the sender's registered JWKS."""
    if private_jwk.get("kty") != "OKP" or private_jwk.get("crv") != "Ed25519":
        raise ValueError("a DCI signature needs an Ed25519 (OKP) private JWK")
    kid = private_jwk.get("kid")
    if not isinstance(kid, str) or not kid or "|" in kid:
        raise ValueError("the signing JWK needs a 'kid' without '|'")
    sender_id = header.get("sender_id")
    if not isinstance(sender_id, str) or not sender_id or "|" in sender_id:
        raise ValueError("header.sender_id must be a non-empty string without '|'")
    if not 0 < lifetime_seconds <= DCI_MAX_LIFETIME_SECONDS:
        raise ValueError(f"lifetime_seconds must be 1..{DCI_MAX_LIFETIME_SECONDS}")
    key = Ed25519PrivateKey.from_private_bytes(_b64url(private_jwk.get("d"), "'d'"))
    created = int((now or utc_now()).timestamp())
    expires = created + lifetime_seconds
    signed = key.sign(dci_signing_string(created, expires, dci_digest(header, message)))
    return (
        f'namespace="{namespace}", kidId="{sender_id}|{kid}|{DCI_ALGORITHM}", '
        f'algorithm="{DCI_ALGORITHM}", created="{created}", expires="{expires}", '
        f'headers="{DCI_SIGNED_HEADERS}", signature="{base64.b64encode(signed).decode("ascii")}"'
    )


def verify_dci_signature(
    envelope: Mapping[str, Any],
    key_lookup: Any,
    *,
    now: datetime | None = None,
    skew_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> DciSignature:
    """Verify the DCI signature string of `envelope` over its header and message as received.

    `key_lookup(kid)` returns the sender's public JWK or None. The `kidId` sender must be
    `header.sender_id`; `created - skew <= now <= expires` must hold. Raises SignatureError:
    `err.signature.malformed`, `.key_unknown`, `.expired` or `.mismatch` (wire code
    `err.signature.invalid`)."""
    parsed = parse_dci_signature(str(envelope.get("signature", "")))
    header = envelope.get("header")
    if not isinstance(header, Mapping) or "message" not in envelope:
        raise _malformed("the envelope needs a header object and a message")
    if parsed.sender_id != header.get("sender_id"):
        raise SignatureError(
            f"kidId names sender {parsed.sender_id!r}, the header {header.get('sender_id')!r}",
            reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value,
            field="signature",
        )
    moment = int((now or utc_now()).timestamp())
    if not parsed.created - skew_seconds <= moment <= parsed.expires:
        raise SignatureError(
            f"the signature is valid from {parsed.created} to {parsed.expires} (Unix s); "
            f"now is {moment}",
            reason=ErrorCode.SIGNATURE_EXPIRED.value,
            field="signature",
        )
    jwk = key_lookup(parsed.key_id)
    if (
        jwk is None
        or jwk.get("kty") != "OKP"
        or jwk.get("crv") != "Ed25519"
        or jwk.get("use", "sig") != "sig"
    ):
        raise SignatureError(
            f"no Ed25519 public key is registered for kid {parsed.key_id!r}",
            reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value,
            field="signature",
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(_b64url(jwk.get("x"), "'x'"))
    except ValueError as exc:
        raise SignatureError(
            f"the key {parsed.key_id!r} is not an Ed25519 public key",
            reason=ErrorCode.SIGNATURE_KEY_UNKNOWN.value,
            field="signature",
        ) from exc
    signed = dci_signing_string(
        parsed.created, parsed.expires, dci_digest(header, envelope["message"])
    )
    try:
        public.verify(parsed.signature, signed)
    except InvalidSignature as exc:
        raise SignatureError(
            f"the DCI signature does not match the header and message for kid {parsed.key_id!r}",
            reason=ErrorCode.SIGNATURE_MISMATCH.value,
            field="signature",
        ) from exc
    return parsed
