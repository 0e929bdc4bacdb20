"""The curated public surface: what README promises is importable from `ibr_protocol`."""

from __future__ import annotations

import ibr_protocol

README_NAMES = [
    "spec_dir",
    "load_openapi",
    "SPEC_VERSION",
    "validate",
    "SchemaValidationError",
    "normalise_envelope",
    "normalise_record",
    "codes",
    "Envelope",
    "RequestHeader",
    "CallbackHeader",
    "Ack",
    "Beneficiary",
    "Programme",
    "Benefit",
    "Member",
    "Person",
    "Group",
    "Identifier",
    "SearchRequest",
    "SearchResponse",
    "EnrolledRequest",
    "EnrolledResponse",
    "EnrollmentUpdatesRequest",
    "EnrollmentUpdatesResponse",
    "SubscribeRequest",
    "SubscribeResponse",
    "UnsubscribeRequest",
    "UnsubscribeResponse",
    "NotifyEventRequest",
    "TxnStatusRequest",
    "TxnStatusResponse",
    "build_request",
    "build_callback",
    "ack",
    "nack",
    "err",
    "ack_for_error",
    "ErrorCode",
    "IbrProtocolError",
    "SignatureError",
    "EncryptionError",
    "ReplayError",
    "TimestampError",
    "generate_signing_key",
    "public_jwk",
    "Jwks",
    "sign_envelope",
    "verify_envelope",
    "canonical_bytes",
    "encrypt_message",
    "decrypt_message",
    "generate_encryption_key",
    "check_message_ts",
    "ReplayGuard",
    "InMemoryReplayGuard",
]


def test_every_name_the_readme_promises_is_exported() -> None:
    """Other parts import these names; a missing one breaks them at import time."""
    missing = [name for name in README_NAMES if name not in ibr_protocol.__all__]
    assert missing == []


def test_all_lists_only_real_attributes() -> None:
    """`from ibr_protocol import *` fails if __all__ names something that does not exist."""
    absent = [name for name in ibr_protocol.__all__ if not hasattr(ibr_protocol, name)]
    assert absent == []


def test_codes_module_maps_labels_and_prefixes() -> None:
    """The codes helpers others use for display and input mapping."""
    assert ibr_protocol.codes.code_for("sex", "F") == "female"
    assert ibr_protocol.codes.code_for("benefit_type", "Cash") == "1"
    assert ibr_protocol.codes.code_for("benefit_type", "benefit:1") == "1"
    assert ibr_protocol.codes.label_for("benefit_type", "1") == "Cash"
    assert "female" in ibr_protocol.codes.all_codes("sex")
