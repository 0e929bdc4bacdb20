"""DCI's signature string profile (security profile section 3b): the committed test vectors
recomputed independently, sign/verify round trips, and every refusal."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ibr_protocol import Jwks, SignatureError, generate_signing_key, public_jwk, verify_envelope
from ibr_protocol.dci_signature import (
    dci_digest,
    dci_signing_string,
    is_dci_signature,
    is_placeholder_signature,
    parse_dci_signature,
    sign_dci,
    verify_dci_signature,
)
from ibr_protocol.normalise import normalise_envelope
from ibr_protocol.spec import spec_dir

VECTORS = sorted((spec_dir() / "examples" / "signature-vectors").glob("dci-signature-*.json"))
NOW = datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
DCI_EXAMPLE = (
    'Signature:  namespace="dci", kidId="{sender_id}|{unique_key_id}|{algorithm}", '
    'algorithm="ed25519", created="1606970629", expires="1607030629", '
    'headers="(created) (expires) digest", signature="Base64(signing content)'
)


def _vector(path: Path) -> dict[str, Any]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def key() -> dict[str, Any]:
    return generate_signing_key("sig-1")


@pytest.fixture
def envelope() -> dict[str, Any]:
    return {
        "header": {"sender_id": "spmis.a", "message_id": "m1", "action": "search", "meta": {}},
        "message": {"transaction_id": "t1", "search_request": [{"reference_id": "r1"}]},
    }


def _signed(envelope: dict[str, Any], key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    signature = sign_dci(envelope["header"], envelope["message"], key, now=NOW, **kwargs)
    return {"signature": signature, **envelope}


def test_there_are_committed_vectors() -> None:
    assert len(VECTORS) >= 2


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_recomputed_without_our_code(path: Path) -> None:
    """Each step of the vector, recomputed from the specification text with hashlib and the
    cryptography library, then the signature checked with the vector's public key."""
    vector = _vector(path)
    env = vector["envelope"]
    sorted_json = json.dumps(
        {"header": env["header"], "message": env["message"]}, sort_keys=True, separators=(",", ":")
    )
    assert sorted_json == vector["sorted_keys_json"]
    digest = base64.b64encode(hashlib.sha256(sorted_json.encode("ascii")).digest()).decode()
    assert digest == vector["digest"]
    signing_string = (
        f"(created): {vector['created']}\n(expires): {vector['expires']}\ndigest: {digest}"
    )
    assert signing_string == vector["signing_string"]
    params = dict(
        part.strip().split("=", 1) for part in env["signature"].split(", ") if "=" in part
    )
    signature = base64.b64decode(params["signature"].strip('"'))
    public = Ed25519PublicKey.from_public_bytes(_b64url(vector["public_jwk"]["x"]))
    public.verify(signature, signing_string.encode("utf-8"))  # raises InvalidSignature


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_matches_our_functions_and_verifies(path: Path) -> None:
    vector = _vector(path)
    env = vector["envelope"]
    assert dci_digest(env["header"], env["message"]) == vector["digest"]
    signing = dci_signing_string(vector["created"], vector["expires"], vector["digest"])
    assert signing.decode() == vector["signing_string"]
    moment = datetime.fromtimestamp(vector["created"] + 10, UTC)
    verified = verify_envelope(env, Jwks([vector["public_jwk"]]), now=moment)
    assert verified.kid == vector["public_jwk"]["kid"]
    assert verified.protected == {"profile": "dci"}


def test_vector_1_is_a_valid_canonical_search_request() -> None:
    from ibr_protocol import validate

    validate(_vector(VECTORS[0])["envelope"], "api/envelope_search_request")


def test_the_signing_key_of_vector_1_reproduces_its_signature() -> None:
    vector = _vector(VECTORS[0])
    env = vector["envelope"]
    again = sign_dci(
        env["header"],
        env["message"],
        vector["private_jwk"],
        now=datetime.fromtimestamp(vector["created"], UTC),
    )
    assert again == env["signature"]  # Ed25519 is deterministic


def test_round_trip_with_and_without_the_signature_prefix(
    envelope: dict[str, Any], key: dict[str, Any]
) -> None:
    signed = _signed(envelope, key)
    jwks = Jwks([public_jwk(key)])
    assert verify_envelope(signed, jwks, now=NOW).kid == "sig-1"
    prefixed = {**signed, "signature": "Signature: " + signed["signature"]}
    assert verify_envelope(prefixed, jwks, now=NOW).kid == "sig-1"


def test_member_order_and_whitespace_do_not_matter(
    envelope: dict[str, Any], key: dict[str, Any]
) -> None:
    signed = _signed(envelope, key)
    reordered = json.loads(json.dumps(signed, indent=3, sort_keys=True))
    reordered["header"] = dict(reversed(list(reordered["header"].items())))
    verify_envelope(reordered, Jwks([public_jwk(key)]), now=NOW)


def _reason(envelope: dict[str, Any], jwks: Jwks, now: datetime = NOW) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_envelope(envelope, jwks, now=now)
    assert caught.value.code == "err.signature.invalid"
    return caught.value.reason


def test_tampered_message_is_a_mismatch(envelope: dict[str, Any], key: dict[str, Any]) -> None:
    signed = _signed(envelope, key)
    tampered = copy.deepcopy(signed)
    tampered["message"]["transaction_id"] = "t2"
    assert _reason(tampered, Jwks([public_jwk(key)])) == "err.signature.mismatch"


def test_another_key_is_a_mismatch(envelope: dict[str, Any], key: dict[str, Any]) -> None:
    other = generate_signing_key("sig-1")  # same kid, other key
    assert _reason(_signed(envelope, key), Jwks([public_jwk(other)])) == "err.signature.mismatch"


def test_unknown_kid_and_foreign_sender_are_key_unknown(
    envelope: dict[str, Any], key: dict[str, Any]
) -> None:
    signed = _signed(envelope, key)
    assert _reason(signed, Jwks()) == "err.signature.key_unknown"
    foreign = copy.deepcopy(signed)
    foreign["header"]["sender_id"] = "spmis.b"  # the kidId still names spmis.a
    assert _reason(foreign, Jwks([public_jwk(key)])) == "err.signature.key_unknown"


@pytest.mark.parametrize(
    ("offset", "ok"),
    [(-301, False), (-300, True), (0, True), (300, True), (301, False)],
)
def test_created_expires_window(
    envelope: dict[str, Any], key: dict[str, Any], offset: int, ok: bool
) -> None:
    """Valid from created - 300 s (clock skew) to expires (= created + 300 s here)."""
    signed = _signed(envelope, key)
    moment = NOW + timedelta(seconds=offset)
    if ok:
        verify_envelope(signed, Jwks([public_jwk(key)]), now=moment)
    else:
        assert _reason(signed, Jwks([public_jwk(key)]), moment) == "err.signature.expired"


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("algorithm", "rsa-sha256"),
        ("headers", "(created) digest"),
        ("kidId", "spmis.a|sig-1"),
        ("created", "soon"),
        ("signature", "c2hvcnQ="),
        ("expires", "1735693300"),  # more than an hour after created
    ],
)
def test_malformed_parameters(
    envelope: dict[str, Any], key: dict[str, Any], change: str, value: str
) -> None:
    signed = _signed(envelope, key)
    params = parse_dci_signature(signed["signature"])
    assert params.key_id == "sig-1"
    text = signed["signature"]
    start = text.index(f'{change}="') + len(change) + 2
    broken = text[:start] + value + text[text.index('"', start) :]
    assert _reason({**signed, "signature": broken}, Jwks([public_jwk(key)])) == (
        "err.signature.malformed"
    )


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        (None, True),
        ("", True),
        ("unsigned", True),
        ("unsigned-stub", True),
        (DCI_EXAMPLE, True),
        ('namespace="dci", kidId="a|k|ed25519", signature="AAAA"', False),
        ("eyJhbGciOiJFZERTQSJ9..c2ln", False),
        ("forged", False),
    ],
)
def test_placeholders(value: str | None, placeholder: bool) -> None:
    assert is_placeholder_signature(value) is placeholder


def test_is_dci_signature_tells_the_profiles_apart(
    envelope: dict[str, Any], key: dict[str, Any]
) -> None:
    assert is_dci_signature(_signed(envelope, key)["signature"])
    assert not is_dci_signature("eyJhbGciOiJFZERTQSJ9..c2ln")


def test_normalisation_keeps_a_real_dci_signature_and_drops_a_placeholder() -> None:
    vector = _vector(VECTORS[0])["envelope"]
    assert normalise_envelope(vector)["signature"] == vector["signature"]
    assert "signature" not in normalise_envelope({**vector, "signature": DCI_EXAMPLE})
    assert "signature" not in normalise_envelope({**vector, "signature": "unsigned-stub"})
    assert "signature" not in normalise_envelope({**vector, "signature": ""})


def test_direct_verify_needs_a_header_and_message(key: dict[str, Any]) -> None:
    with pytest.raises(SignatureError):
        verify_dci_signature({"signature": "x"}, Jwks([public_jwk(key)]).get, now=NOW)


def test_signing_refuses_keys_and_ids_it_cannot_express(
    envelope: dict[str, Any], key: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="private JWK"):
        sign_dci(envelope["header"], envelope["message"], {"kty": "RSA"})
    with pytest.raises(ValueError, match="sender_id"):
        sign_dci({**envelope["header"], "sender_id": "a|b"}, envelope["message"], key)
