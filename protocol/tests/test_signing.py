"""Signatures round-trip, and every kind of bad signature is rejected with its DCI code."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from ibr_protocol import (
    InMemoryReplayGuard,
    Jwks,
    ReplayError,
    SignatureError,
    TimestampError,
    canonical_bytes,
    check_message_ts,
    generate_signing_key,
    public_jwk,
    sign_envelope,
    validate,
    verify_envelope,
    verify_request,
)

DCI_PLACEHOLDER = (
    'Signature:  namespace="dci", kidId="{sender_id}|{unique_key_id}|{algorithm}", '
    'algorithm="ed25519", created="1606970629", expires="1607030629", '
    'headers="(created) (expires) digest", signature="Base64(signing content)'
)


def test_signed_envelope_verifies_and_validates(
    search_envelope: dict[str, Any], signing_key: dict[str, Any], jwks: Jwks
) -> None:
    """Sign then verify must round-trip, and the signature must meet api/signature."""
    signed = sign_envelope(search_envelope, signing_key)
    validate(signed, "api/envelope_search_request")
    verified = verify_envelope(signed, jwks)
    assert verified.kid == "spmis-1"
    assert verified.alg == "EdDSA"
    assert "signature" not in search_envelope, "sign_envelope must not mutate its input"


def test_signature_survives_key_reordering_and_whitespace(
    search_envelope: dict[str, Any], signing_key: dict[str, Any], jwks: Jwks
) -> None:
    """The payload is RFC 8785, so a receiver's JSON parser order must not matter."""
    signed = sign_envelope(search_envelope, signing_key)
    reordered = {
        "message": dict(reversed(list(signed["message"].items()))),
        "header": dict(reversed(list(signed["header"].items()))),
        "signature": signed["signature"],
    }
    verify_envelope(reordered, jwks)


def test_canonical_bytes_are_rfc8785() -> None:
    """Both sides must sign the same bytes: sorted keys, no spaces."""
    assert canonical_bytes({"b": 1, "a": 2}, {"z": [1, 2]}) == (
        b'{"header":{"a":2,"b":1},"message":{"z":[1,2]}}'
    )


@pytest.mark.parametrize(
    ("part", "field", "value"),
    [("header", "receiver_id", "someone-else"), ("message", "transaction_id", "txn-2")],
    ids=["tampered-header", "tampered-message"],
)
def test_tampering_is_rejected_as_invalid(
    search_envelope: dict[str, Any],
    signing_key: dict[str, Any],
    jwks: Jwks,
    part: str,
    field: str,
    value: str,
) -> None:
    """A changed header or message must fail verification with err.signature.invalid."""
    signed = sign_envelope(search_envelope, signing_key)
    tampered = copy.deepcopy(signed)
    tampered[part][field] = value
    with pytest.raises(SignatureError) as caught:
        verify_envelope(tampered, jwks)
    assert caught.value.code == "err.signature.invalid"
    assert caught.value.reason == "err.signature.mismatch"
    assert caught.value.field == "signature"


def test_wrong_key_is_rejected(search_envelope: dict[str, Any]) -> None:
    """A signature by another key under the same kid must not verify."""
    attacker = generate_signing_key("spmis-1")
    genuine = Jwks([public_jwk(generate_signing_key("spmis-1"))])
    with pytest.raises(SignatureError) as caught:
        verify_envelope(sign_envelope(search_envelope, attacker), genuine)
    assert caught.value.code == "err.signature.invalid"


def test_unknown_kid_is_rejected(
    search_envelope: dict[str, Any], signing_key: dict[str, Any]
) -> None:
    """A kid the receiver does not know must be rejected, naming the kid."""
    with pytest.raises(SignatureError, match="spmis-1") as caught:
        verify_envelope(sign_envelope(search_envelope, signing_key), Jwks())
    assert caught.value.code == "err.signature.invalid"
    assert caught.value.reason == "err.signature.key_unknown"


@pytest.mark.parametrize("signature", [None, ""], ids=["absent", "empty"])
def test_missing_signature_is_rejected(
    search_envelope: dict[str, Any], jwks: Jwks, signature: str | None
) -> None:
    """No signature is err.signature.missing."""
    envelope = dict(search_envelope)
    if signature is not None:
        envelope["signature"] = signature
    with pytest.raises(SignatureError) as caught:
        verify_envelope(envelope, jwks)
    assert caught.value.code == "err.signature.missing"


@pytest.mark.parametrize(
    "placeholder", [DCI_PLACEHOLDER, "unsigned", "unsigned-stub", " UNSIGNED "]
)
@pytest.mark.parametrize("dci_compat", [False, True], ids=["strict", "dci-compat"])
def test_dci_placeholder_signature_counts_as_missing(
    search_envelope: dict[str, Any], jwks: Jwks, dci_compat: bool, placeholder: str
) -> None:
    """DCI's example string and the kits' `unsigned` sign nothing: no signature (IBR-SIG-010)."""
    with pytest.raises(SignatureError) as caught:
        verify_envelope({**search_envelope, "signature": placeholder}, jwks, dci_compat=dci_compat)
    assert caught.value.code == "err.signature.missing"


@pytest.mark.parametrize(
    "signature",
    ["abc", "a.b.c", "e30..c2ln", "bm90anNvbg..c2ln"],
    ids=["no-dots", "attached-payload", "no-alg", "not-json"],
)
def test_malformed_signature_is_invalid(
    search_envelope: dict[str, Any], jwks: Jwks, signature: str
) -> None:
    """Garbage in the signature field must be err.signature.invalid, never a crash."""
    with pytest.raises(SignatureError) as caught:
        verify_envelope({**search_envelope, "signature": signature}, jwks)
    assert caught.value.code == "err.signature.invalid"
    assert caught.value.reason == "err.signature.malformed"


def test_public_jwk_has_no_private_part(signing_key: dict[str, Any]) -> None:
    """Publishing the private key would let anyone sign as us; the JWKS must validate."""
    jwk = public_jwk(signing_key)
    assert "d" not in jwk
    validate(Jwks([jwk]).as_dict(), "api/jwks")


def test_signing_with_a_public_key_is_refused(
    search_envelope: dict[str, Any], signing_key: dict[str, Any]
) -> None:
    """A public JWK cannot sign; the error must say so."""
    with pytest.raises(ValueError, match="private"):
        sign_envelope(search_envelope, public_jwk(signing_key))


# --- time and replay ----------------------------------------------------------------------


def test_message_ts_inside_window_is_accepted(now: datetime) -> None:
    """Clock skew within the window must not reject honest senders."""
    check_message_ts("2025-03-01T12:04:00Z", now=now)
    check_message_ts("2025-03-01T11:56:00+00:00", now=now)


@pytest.mark.parametrize(
    "message_ts",
    ["2025-03-01T11:54:59Z", "2025-03-01T12:05:01Z", "2025-03-01T12:00:00", "yesterday"],
    ids=["expired", "future", "no-zone", "garbage"],
)
def test_message_ts_outside_window_is_rejected(now: datetime, message_ts: str) -> None:
    """Old (replayable), future, zone-less and malformed timestamps are rejected."""
    with pytest.raises(TimestampError) as caught:
        check_message_ts(message_ts, now=now)
    assert caught.value.field == "header.message_ts"
    assert caught.value.code == "err.request.bad"
    assert caught.value.reason == "err.message_ts.invalid"


def test_verify_request_rejects_expired_timestamp(
    search_envelope: dict[str, Any], signing_key: dict[str, Any], jwks: Jwks, now: datetime
) -> None:
    """A correctly signed but old message is rejected (the signature alone is not enough)."""
    signed = sign_envelope(search_envelope, signing_key)
    later = now + timedelta(minutes=10)
    with pytest.raises(TimestampError):
        verify_request(
            signed,
            key_lookup=jwks,
            replay_guard=InMemoryReplayGuard(clock=lambda: later),
            now=later,
        )


def test_verify_request_rejects_replayed_message_id(
    search_envelope: dict[str, Any], signing_key: dict[str, Any], jwks: Jwks, now: datetime
) -> None:
    """The same signed message sent twice is accepted once, then rejected as a replay."""
    signed = sign_envelope(search_envelope, signing_key)
    guard = InMemoryReplayGuard(clock=lambda: now)
    verify_request(signed, key_lookup=jwks, replay_guard=guard, now=now)
    with pytest.raises(ReplayError) as caught:
        verify_request(signed, key_lookup=jwks, replay_guard=guard, now=now)
    assert caught.value.code == "err.request.bad"
    assert caught.value.reason == "err.message_id.duplicate"
    assert caught.value.field == "header.message_id"


def test_unsigned_message_does_not_reach_the_replay_guard(
    search_envelope: dict[str, Any], jwks: Jwks, now: datetime
) -> None:
    """Unauthenticated traffic must not be able to fill the replay cache."""
    guard = InMemoryReplayGuard(clock=lambda: now)
    with pytest.raises(SignatureError):
        verify_request(search_envelope, key_lookup=jwks, replay_guard=guard, now=now)
    assert len(guard) == 0


def test_replay_guard_forgets_expired_ids(now: datetime) -> None:
    """Ids are kept only for their window, so the guard's memory stays bounded."""
    clock = [now]
    guard = InMemoryReplayGuard(clock=lambda: clock[0])
    assert guard.remember("s", "m1", now + timedelta(seconds=10))
    assert not guard.remember("s", "m1", now + timedelta(seconds=10))
    assert guard.remember("other-sender", "m1", now + timedelta(seconds=10))
    clock[0] = now + timedelta(seconds=11)
    assert guard.remember("s", "m2", now + timedelta(seconds=30))
    assert len(guard) == 1
