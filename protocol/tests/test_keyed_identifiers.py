"""Keyed-hash identifiers (security profile section 7): the formula, the vector, key files."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from ibr_protocol import SchemaValidationError, spec_dir, validate
from ibr_protocol.keyed_identifiers import (
    KEYED_IDENTIFIER_TYPE,
    IdentifierKey,
    keyed_identifier,
    parse_keyed_value,
)

KEY = IdentifierKey("k1", bytes(range(32)))


def test_the_security_profile_vector_is_what_the_formula_gives() -> None:
    profile = (spec_dir() / "security-profile.md").read_text(encoding="utf-8")
    section = profile[profile.index("## 7. Keyed-hash identifiers") :]
    vector = re.search(r"`(NID:k1:[0-9a-f]{64})`", section)
    assert vector is not None, "the section's test vector"
    by_hand = hmac.new(bytes(range(32)), b"NID:123456789", hashlib.sha256).hexdigest()
    assert vector.group(1) == f"NID:k1:{by_hand}"
    assert keyed_identifier(KEY, "NID", "1234 5678-9") == {
        "identifier_type": KEYED_IDENTIFIER_TYPE,
        "identifier_value": vector.group(1),
    }


def test_spellings_of_one_number_give_one_token_and_types_and_keys_separate() -> None:
    token = keyed_identifier(KEY, "NID", "123456789")["identifier_value"]
    assert keyed_identifier(KEY, "nid", " 1234-5678.9 ")["identifier_value"] == token
    assert keyed_identifier(KEY, "NationalID", "123456789")["identifier_value"] == token
    assert keyed_identifier(KEY, "UIN", "123456789")["identifier_value"] != token
    other = IdentifierKey("k2", bytes(range(1, 33)))
    assert (
        keyed_identifier(other, "NID", "123456789")["identifier_value"].split(":")[2]
        != (token.split(":")[2])
    )


def test_a_keyed_identifier_is_a_valid_identifier_and_a_malformed_one_is_not() -> None:
    schema = "data/identifier"
    validate(keyed_identifier(KEY, "NID", "123456789"), schema)
    with pytest.raises(SchemaValidationError, match="identifier_value"):
        validate({"identifier_type": "HMAC_SHA256", "identifier_value": "123456789"}, schema)


def test_values_parse_to_a_canonical_spelling() -> None:
    token = keyed_identifier(KEY, "NID", "123456789")["identifier_value"]
    parsed = parse_keyed_value(" " + token.upper().replace("K1", "k1"))
    assert parsed is not None
    assert str(parsed) == token
    for bad in ("", "NID:k1:abc", "NID::" + "0" * 64, "1D:k1:" + "0" * 64, token + "0"):
        assert parse_keyed_value(bad) is None, bad


def test_key_files_round_trip_and_bad_ones_say_what_is_wrong(tmp_path: Path) -> None:
    key = IdentifierKey.generate("k2026")
    path = tmp_path / "key.json"
    path.write_text(key.to_json(), encoding="utf-8")
    assert IdentifierKey.load(path) == key
    secret = key.to_json().split('"secret": "')[1].split('"')[0]
    for text, reason in [
        ("{", "not JSON"),
        ('{"key_id": "k1"}', "key_id and secret"),
        ('{"key_id": "k1", "secret": "AAAA"}', "at least 32 bytes"),
        ('{"key_id": "k 1", "secret": "' + secret + '"}', "key id"),
        ('{"key_id": "k1", "algorithm": "MD5", "secret": "' + secret + '"}', "HMAC-SHA256"),
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=reason) as caught:
            IdentifierKey.load(path)
        assert secret not in str(caught.value)
    with pytest.raises(ValueError, match="identifier key file"):
        IdentifierKey.load(tmp_path / "missing.json")
