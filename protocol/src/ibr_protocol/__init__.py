"""ibr_protocol: the DCI SP-MIS <-> IBR protocol as a library.

Load the spec, validate and model messages, build envelopes and acknowledgements, sign and
verify, encrypt and decrypt, check time and replay, and normalise DCI-variant messages to the
canonical form. No web framework, database or Odoo here. See protocol/README.md.
"""

from ibr_protocol import codes
from ibr_protocol.ack import ack, ack_for_error, err, nack
from ibr_protocol.clock import check_message_ts, format_timestamp, parse_timestamp
from ibr_protocol.encryption import decrypt_message, encrypt_message, generate_encryption_key
from ibr_protocol.envelope import (
    build_callback,
    build_request,
    is_encrypted_message,
    new_message_id,
)
from ibr_protocol.errors import (
    DCI_ERROR_CODES,
    EncryptionError,
    ErrorCode,
    IbrProtocolError,
    NormalisationError,
    ReplayError,
    SchemaErrorDetail,
    SchemaValidationError,
    SignatureError,
    SpecError,
    TimestampError,
)
from ibr_protocol.models import (
    Ack,
    Beneficiary,
    Benefit,
    CallbackHeader,
    EnrolledRequest,
    EnrolledResponse,
    EnrollmentUpdatesRequest,
    EnrollmentUpdatesResponse,
    Envelope,
    Group,
    Identifier,
    Member,
    NotifyEventRequest,
    Person,
    Programme,
    RequestHeader,
    SearchRequest,
    SearchResponse,
    SubscribeRequest,
    SubscribeResponse,
    TxnStatusRequest,
    TxnStatusResponse,
    UnsubscribeRequest,
    UnsubscribeResponse,
)
from ibr_protocol.normalise import normalise_envelope, normalise_record
from ibr_protocol.replay import InMemoryReplayGuard, ReplayGuard, check_not_replayed
from ibr_protocol.signing import (
    Jwks,
    VerifiedSignature,
    canonical_bytes,
    generate_signing_key,
    public_jwk,
    sign_envelope,
    verify_envelope,
    verify_request,
)
from ibr_protocol.spec import PROTOCOL_VERSION, SPEC_VERSION, load_openapi, spec_dir
from ibr_protocol.validation import load_schema, schema_names, validate

__all__ = [
    # errors
    "DCI_ERROR_CODES",
    # the spec on disk
    "PROTOCOL_VERSION",
    "SPEC_VERSION",
    # models
    "Ack",
    "Beneficiary",
    "Benefit",
    "CallbackHeader",
    "EncryptionError",
    "EnrolledRequest",
    "EnrolledResponse",
    "EnrollmentUpdatesRequest",
    "EnrollmentUpdatesResponse",
    "Envelope",
    "ErrorCode",
    "Group",
    "IbrProtocolError",
    "Identifier",
    # time and replay
    "InMemoryReplayGuard",
    # signing
    "Jwks",
    "Member",
    "NormalisationError",
    "NotifyEventRequest",
    "Person",
    "Programme",
    "ReplayError",
    "ReplayGuard",
    "RequestHeader",
    "SchemaErrorDetail",
    "SchemaValidationError",
    "SearchRequest",
    "SearchResponse",
    "SignatureError",
    "SpecError",
    "SubscribeRequest",
    "SubscribeResponse",
    "TimestampError",
    "TxnStatusRequest",
    "TxnStatusResponse",
    "UnsubscribeRequest",
    "UnsubscribeResponse",
    "VerifiedSignature",
    # acknowledgements
    "ack",
    "ack_for_error",
    # building messages
    "build_callback",
    "build_request",
    "canonical_bytes",
    "check_message_ts",
    "check_not_replayed",
    # DCI variants and codes
    "codes",
    # encryption
    "decrypt_message",
    "encrypt_message",
    "err",
    "format_timestamp",
    "generate_encryption_key",
    "generate_signing_key",
    "is_encrypted_message",
    "load_openapi",
    "load_schema",
    "nack",
    "new_message_id",
    "normalise_envelope",
    "normalise_record",
    "parse_timestamp",
    "public_jwk",
    "schema_names",
    "sign_envelope",
    "spec_dir",
    # validation
    "validate",
    "verify_envelope",
    "verify_request",
]
