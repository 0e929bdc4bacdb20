"""Keyed-hash identifiers: SP-MIS send HMAC-SHA256 tokens of national IDs instead of the numbers.

Every SP-MIS of a country holds the same secret key (issued by the ministry, never given to the
IBR) and sends, for a person's national ID, the identifier

    {"identifier_type": "HMAC_SHA256", "identifier_value": "NID:k2026:<64 hex digits>"}

where the hex digits are HMAC-SHA256(key, "NID:" + canonical value). The same person gets the
same token from every programme, so the IBR links and finds overlaps exactly as with raw numbers,
without ever holding them. The canonical value keeps letters and digits only, upper-cased
(`"1234 5678-9"` and `"123456789"` give one token): every SP-MIS must hash the same spelling, so
the spelling is fixed here and not left to a deployment. The key id travels in the value, so a
key rotation is visible: during one, SP-MIS send the tokens of both keys (see the security
profile, "Keyed-hash identifiers").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibr_protocol.dci_wire import identifier_type_code

__all__ = [
    "KEYED_IDENTIFIER_TYPE",
    "IdentifierKey",
    "KeyedValue",
    "canonical_value",
    "key_identifiers",
    "keyed_identifier",
    "parse_keyed_value",
]

KEYED_IDENTIFIER_TYPE = "HMAC_SHA256"
"""The identifier type of every keyed-hash identifier (the hashed type is inside the value)."""

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,31}):([A-Za-z0-9_-]{1,16}):([0-9A-Fa-f]{64})$")
_MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class IdentifierKey:
    """One version of the country's identifier key: its id (in every token) and its secret."""

    key_id: str
    secret: bytes

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise ValueError("key id: 1 to 16 letters, digits, '-' or '_'")
        if len(self.secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"key secret: at least {_MIN_SECRET_BYTES} bytes")

    @classmethod
    def generate(cls, key_id: str) -> IdentifierKey:
        return cls(key_id, secrets.token_bytes(_MIN_SECRET_BYTES))

    def to_json(self) -> str:
        secret = base64.urlsafe_b64encode(self.secret).decode().rstrip("=")
        return json.dumps({"key_id": self.key_id, "algorithm": "HMAC-SHA256", "secret": secret})

    @classmethod
    def from_json(cls, text: str) -> IdentifierKey:
        """Parse a key file's text; ValueError says what is wrong (never echoes the secret)."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(name), str) for name in ("key_id", "secret")
        ):
            raise ValueError("expected a JSON object with key_id and secret")
        if data.get("algorithm", "HMAC-SHA256") != "HMAC-SHA256":
            raise ValueError("algorithm must be HMAC-SHA256")
        secret = data["secret"]
        try:
            raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        except ValueError:
            raise ValueError("secret is not base64url") from None
        return cls(data["key_id"], raw)

    @classmethod
    def load(cls, path: Path) -> IdentifierKey:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"identifier key file {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"identifier key file {path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class KeyedValue:
    """A keyed identifier's value, parsed and spelled canonically."""

    hashed_type: str
    key_id: str
    digest: str

    def __str__(self) -> str:
        return f"{self.hashed_type}:{self.key_id}:{self.digest}"


def canonical_value(value: str) -> str:
    """The spelling every SP-MIS hashes: letters and digits only, upper case."""
    return "".join(ch for ch in value if ch.isalnum()).upper()


def keyed_identifier(key: IdentifierKey, identifier_type: str, value: str) -> dict[str, str]:
    """The keyed-hash Identifier of (identifier_type, value), e.g. ("NID", "1234 5678-9"); a type
    is hashed under the spec's code (`NationalID` as `NID`)."""
    hashed_type = identifier_type_code(identifier_type.strip()).upper()
    if not _TYPE.match(hashed_type):
        raise ValueError(f"identifier type {identifier_type!r}: a code such as NID or UIN")
    canonical = canonical_value(value)
    if not canonical:
        raise ValueError("identifier value: no letters or digits to hash")
    message = f"{hashed_type}:{canonical}".encode()
    digest = hmac.new(key.secret, message, hashlib.sha256).hexdigest()
    keyed = KeyedValue(hashed_type, key.key_id, digest)
    return {"identifier_type": KEYED_IDENTIFIER_TYPE, "identifier_value": str(keyed)}


def parse_keyed_value(value: str) -> KeyedValue | None:
    """The parts of a keyed identifier's value (type upper-cased, digest lower-cased), or None
    when it is not `TYPE:KEY_ID:64-HEX`."""
    match = _VALUE.match(value.strip())
    if match is None:
        return None
    hashed_type, key_id, digest = match.groups()
    return KeyedValue(hashed_type.upper(), key_id, digest.lower())


def key_identifiers(
    document: Any, keys: Sequence[IdentifierKey], hashed_types: Collection[str] = ("NID", "UIN")
) -> Any:
    """A copy of `document` (a record, or any JSON) in which every Identifier of a hashed type is
    replaced by its tokens, one per key: two keys while a rotation is under way."""
    if isinstance(document, list):
        return [key_identifiers(item, keys, hashed_types) for item in document]
    if not isinstance(document, dict):
        return document
    out: dict[str, Any] = {}
    for name, value in document.items():
        if isinstance(value, list) and any(_hashed(v, hashed_types) for v in value):
            out[name] = [
                token
                for item in value
                for token in (
                    [
                        keyed_identifier(k, item["identifier_type"], item["identifier_value"])
                        for k in keys
                    ]
                    if _hashed(item, hashed_types)
                    else [key_identifiers(item, keys, hashed_types)]
                )
            ]
        else:
            out[name] = key_identifiers(value, keys, hashed_types)
    return out


def _hashed(item: Any, hashed_types: Collection[str]) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("identifier_type"), str)
        and isinstance(item.get("identifier_value"), str)
        and identifier_type_code(item["identifier_type"].strip()).upper() in hashed_types
    )
