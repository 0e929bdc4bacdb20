"""Encryption round-trips through the EncryptedMessage shape and fails safely."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ibr_protocol import (
    EncryptionError,
    decrypt_message,
    encrypt_message,
    generate_encryption_key,
    public_jwk,
    validate,
)
from ibr_protocol.models import EncryptedMessage

MESSAGE: dict[str, Any] = {"transaction_id": "txn-1", "search_request": [{"reference_id": "é"}]}


@pytest.fixture(scope="module")
def recipient() -> dict[str, Any]:
    return generate_encryption_key("ibr-enc-1")


def test_round_trip_and_shape(recipient: dict[str, Any]) -> None:
    """Encrypt then decrypt returns the message; the object meets api/encrypted_message."""
    encrypted = encrypt_message(MESSAGE, public_jwk(recipient))
    validate(encrypted, "api/encrypted_message")
    EncryptedMessage.model_validate(encrypted)
    assert encrypted["header"]["kid"] == "ibr-enc-1"
    assert decrypt_message(encrypted, recipient) == MESSAGE


def test_header_in_another_key_order_still_decrypts(recipient: dict[str, Any]) -> None:
    """The AAD is JCS of the header, so a peer's key order must not matter."""
    encrypted = encrypt_message(MESSAGE, public_jwk(recipient))
    header = encrypted["header"]
    shuffled = {k: header[k] for k in reversed(list(header))}
    shuffled["epk"] = dict(reversed(list(header["epk"].items())))
    assert decrypt_message({**encrypted, "header": shuffled}, recipient) == MESSAGE


def test_round_trip_through_json_text(recipient: dict[str, Any]) -> None:
    """The header's bytes are authenticated: a trip through JSON text must keep them intact."""
    encrypted = json.loads(json.dumps(encrypt_message(MESSAGE, public_jwk(recipient)), indent=2))
    assert decrypt_message(encrypted, recipient) == MESSAGE


def test_wrong_key_is_rejected(recipient: dict[str, Any]) -> None:
    """Another key with the same kid must fail authentication, not return garbage."""
    encrypted = encrypt_message(MESSAGE, public_jwk(recipient))
    other = generate_encryption_key("ibr-enc-1")
    with pytest.raises(EncryptionError) as caught:
        decrypt_message(encrypted, other)
    assert caught.value.code == "err.encryption.invalid"
    assert caught.value.reason == "err.encryption.decrypt_failed"


def test_message_for_another_kid_is_rejected(recipient: dict[str, Any]) -> None:
    """A message encrypted for another key names the kid it was meant for."""
    encrypted = encrypt_message(MESSAGE, public_jwk(generate_encryption_key("someone-else")))
    with pytest.raises(EncryptionError, match="someone-else") as caught:
        decrypt_message(encrypted, recipient)
    assert caught.value.field == "message.header.kid"


@pytest.mark.parametrize("part", ["ciphertext", "tag", "iv", "encrypted_key"])
def test_tampering_is_rejected(recipient: dict[str, Any], part: str) -> None:
    """Any changed part must fail the GCM/key-wrap check."""
    encrypted = encrypt_message(MESSAGE, public_jwk(recipient))
    value = encrypted[part]
    flipped = ("A" if value[0] != "A" else "B") + value[1:]
    with pytest.raises(EncryptionError):
        decrypt_message({**encrypted, part: flipped}, recipient)


def test_incomplete_object_names_the_missing_part(recipient: dict[str, Any]) -> None:
    """A missing part is reported by name, not as a crash."""
    encrypted = encrypt_message(MESSAGE, public_jwk(recipient))
    del encrypted["tag"]
    with pytest.raises(EncryptionError, match="tag"):
        decrypt_message(encrypted, recipient)
