"""Message encryption: JWE (ECDH-ES+A256KW, A256GCM) mapped onto the DCI EncryptedMessage.

The JWE compact parts map one to one onto EncryptedMessage:

    <protected>.<encrypted_key>.<iv>.<ciphertext>.<tag>
    header = the protected header, base64url-decoded to an object ({alg, enc, kid, epk})

The protected header is authenticated data, so both sides build its bytes with RFC 8785 (JCS),
as the security profile says: the receiver rebuilds them from the parsed `header` object,
whatever order its JSON parser keeps. joserfc does all the cryptography; we only choose the
ephemeral key (with JCS-ordered members) so that joserfc's header bytes are the JCS bytes.
Keys are X25519 (the profile's JWKS and EncryptedMessage schemas allow no other curve).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from joserfc import jwe

# Not re-exported by joserfc.jwe's __all__, but the building blocks of its encrypt_compact;
# we call them to choose the ephemeral key (see the module docstring).
from joserfc._rfc7516.compact import represent_compact
from joserfc._rfc7516.message import perform_encrypt
from joserfc.errors import JoseError
from joserfc.jwe import CompactEncryption, JWERegistry, Recipient
from joserfc.jwk import KeyParameters, OKPKey

from ibr_protocol.canonical_json import canonical_json
from ibr_protocol.errors import EncryptionError, ErrorCode

KEY_ALG = "ECDH-ES+A256KW"
CONTENT_ENC = "A256GCM"
_REGISTRY = JWERegistry(algorithms=[KEY_ALG, CONTENT_ENC])

Jwk = dict[str, Any]


class _JcsOrderedKey(OKPKey):
    """An OKP key whose JWK members come out in RFC 8785 order (for the `epk` header)."""

    def as_dict(self, *args: Any, **kwargs: Any) -> Any:
        return dict(sorted(super().as_dict(*args, **kwargs).items()))


def generate_encryption_key(kid: str) -> Jwk:
    """A new private X25519 key agreement JWK (publish `public_jwk` of it)."""
    parameters: KeyParameters = {"kid": kid, "use": "enc", "alg": KEY_ALG}
    return dict(OKPKey.generate_key("X25519", parameters=parameters).as_dict(private=True))


def _import(jwk: Mapping[str, Any]) -> OKPKey:
    material = {name: value for name, value in jwk.items() if name != "alg"}
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "X25519":
            return OKPKey.import_key(material)
    except (JoseError, ValueError, TypeError) as exc:
        raise EncryptionError(
            f"the key is not a usable JWK: {exc}",
            reason=ErrorCode.ENCRYPTION_KEY_UNKNOWN.value,
            field="header.kid",
        ) from exc
    raise EncryptionError(
        f"kty {jwk.get('kty')!r} / crv {jwk.get('crv')!r} is not supported; use an X25519 key",
        reason=ErrorCode.ENCRYPTION_KEY_UNKNOWN.value,
        field="header.kid",
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt_message(message: Mapping[str, Any], recipient_public_jwk: Mapping[str, Any]) -> Jwk:
    """Encrypt a message for one recipient; returns an EncryptedMessage object.

    The plaintext is the RFC 8785 canonical JSON of `message`.
    """
    kid = recipient_public_jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("the recipient JWK needs a non-empty string 'kid'")
    key = _import(recipient_public_jwk)
    ephemeral = _JcsOrderedKey.generate_key("X25519", private=True)
    header = {
        "alg": KEY_ALG,
        "enc": CONTENT_ENC,
        "epk": ephemeral.as_dict(private=False),
        "kid": kid,
    }
    jwe_object = CompactEncryption(header, canonical_json(dict(message)))
    recipient: Recipient[Any] = Recipient(jwe_object)
    recipient.recipient_key = key
    recipient.ephemeral_key = ephemeral
    jwe_object.recipient = recipient
    perform_encrypt(jwe_object, _REGISTRY)
    compact = represent_compact(jwe_object)
    text = compact.decode("ascii") if isinstance(compact, bytes) else compact
    head, encrypted_key, iv, ciphertext, tag = text.split(".")
    if head != _b64(canonical_json(json.loads(_unb64(head)))):
        raise EncryptionError("the JWE protected header is not in RFC 8785 form (library change?)")
    return {
        "header": json.loads(_unb64(head)),
        "encrypted_key": encrypted_key,
        "iv": iv,
        "ciphertext": ciphertext,
        "tag": tag,
    }


def decrypt_message(encrypted: Mapping[str, Any], private_jwk: Mapping[str, Any]) -> Any:
    """Decrypt an EncryptedMessage with the recipient's private key; returns the message.

    Raises EncryptionError (`err.encryption.invalid`) naming the field when the object is
    incomplete, addressed to another key, or fails to authenticate.
    """
    for name in ("header", "encrypted_key", "iv", "ciphertext", "tag"):
        if name not in encrypted:
            raise EncryptionError(f"EncryptedMessage has no {name!r}", field=f"message.{name}")
    header = encrypted["header"]
    if not isinstance(header, Mapping):
        raise EncryptionError("EncryptedMessage header is not an object", field="message.header")
    if header.get("alg") != KEY_ALG or header.get("enc") != CONTENT_ENC:
        raise EncryptionError(
            f"alg/enc {header.get('alg')!r}/{header.get('enc')!r} not accepted; "
            f"use {KEY_ALG}/{CONTENT_ENC}",
            field="message.header.alg",
        )
    if private_jwk.get("kid") != header.get("kid"):
        raise EncryptionError(
            f"the message is encrypted for kid {header.get('kid')!r}, "
            f"not for this key ({private_jwk.get('kid')!r})",
            reason=ErrorCode.ENCRYPTION_KEY_UNKNOWN.value,
            field="message.header.kid",
        )
    key = _import(private_jwk)
    protected = _b64(canonical_json(dict(header)))
    rest = ".".join(str(encrypted[n]) for n in ("encrypted_key", "iv", "ciphertext", "tag"))
    try:
        plaintext = jwe.decrypt_compact(f"{protected}.{rest}", key, registry=_REGISTRY).plaintext
    except (JoseError, ValueError) as exc:
        raise EncryptionError(
            f"the message does not decrypt with key {private_jwk.get('kid')!r} ({exc})",
            reason=ErrorCode.ENCRYPTION_DECRYPT_FAILED.value,
            field="message.ciphertext",
        ) from exc
    try:
        return json.loads(plaintext or b"")
    except json.JSONDecodeError as exc:
        raise EncryptionError(
            f"the decrypted message is not JSON: {exc}", field="message.ciphertext"
        ) from exc
