"""Every error the protocol library raises, each carrying the DCI error code it maps to.

    IbrProtocolError                 base: `.code` (DCI wire code), `.reason`, `.field`
    ├── SpecError                    the spec files are missing or broken (a deployment fault)
    ├── SchemaValidationError        a message breaks a JSON Schema rule (`.errors`)
    ├── NormalisationError           a DCI-variant value cannot be mapped to the canonical form
    ├── SignatureError               missing, malformed, tampered or unknown-key signature
    ├── EncryptionError              a message cannot be encrypted or decrypted
    ├── TimestampError               `message_ts` outside the accepted window
    └── ReplayError                  a `message_id` seen before from the same sender

`.code` is always one of the DCI `Error.code` values, so that `ack_for_error` can put it on the
wire as is. `.reason` is a finer dotted code (ours, e.g. `err.signature.key_unknown`) for logs
and the error message; the spec logs each of ours in DEVIATIONS.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """DCI error codes (`Error.code` of the DCI OpenAPI) followed by our finer reasons."""

    # DCI IBR v1.0.0 `Error.code`
    REQUEST_BAD = "err.request.bad"
    REQUEST_UNAUTHORIZED = "err.request.unauthorized"
    REQUEST_FORBIDDEN = "err.request.forbidden"
    REQUEST_NOT_FOUND = "err.request.not_found"
    REQUEST_TIMEOUT = "err.request.timeout"
    VERSION_NOT_SUPPORTED = "err.version.not_supported"
    REQUEST_TOO_MANY_REQUESTS = "err.request.too_many_requests"
    SENDER_ID_INVALID = "err.sender_id.invalid"
    SENDER_URI_INVALID = "err.sender_uri.invalid"
    RECEIVER_ID_INVALID = "err.receiver_id.invalid"
    SIGNATURE_MISSING = "err.signature.missing"
    SIGNATURE_INVALID = "err.signature.invalid"
    ENCRYPTION_INVALID = "err.encryption.invalid"
    SERVICE_UNAVAILABLE = "err.service.unavailable"

    # Ours: finer reasons carried in `.reason`; never a wire `Error.code` on their own.
    SCHEMA_INVALID = "err.request.bad.schema"
    NORMALISATION_FAILED = "err.request.bad.normalisation"
    SIGNATURE_MALFORMED = "err.signature.malformed"
    SIGNATURE_KEY_UNKNOWN = "err.signature.key_unknown"
    SIGNATURE_MISMATCH = "err.signature.mismatch"
    SIGNATURE_EXPIRED = "err.signature.expired"
    MESSAGE_TS_INVALID = "err.message_ts.invalid"
    MESSAGE_ID_DUPLICATE = "err.message_id.duplicate"
    ENCRYPTION_KEY_UNKNOWN = "err.encryption.key_unknown"
    ENCRYPTION_DECRYPT_FAILED = "err.encryption.decrypt_failed"


DCI_ERROR_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.REQUEST_BAD,
        ErrorCode.REQUEST_UNAUTHORIZED,
        ErrorCode.REQUEST_FORBIDDEN,
        ErrorCode.REQUEST_NOT_FOUND,
        ErrorCode.REQUEST_TIMEOUT,
        ErrorCode.VERSION_NOT_SUPPORTED,
        ErrorCode.REQUEST_TOO_MANY_REQUESTS,
        ErrorCode.SENDER_ID_INVALID,
        ErrorCode.SENDER_URI_INVALID,
        ErrorCode.RECEIVER_ID_INVALID,
        ErrorCode.SIGNATURE_MISSING,
        ErrorCode.SIGNATURE_INVALID,
        ErrorCode.ENCRYPTION_INVALID,
        ErrorCode.SERVICE_UNAVAILABLE,
    }
)
"""The codes DCI defines for `Error.code`; the only ones that go on the wire."""

# The wire code of the time and replay rules, in one place so that the security profile can
# change them with one line. DCI has no dedicated `err.*` code for either (its closest are the
# header status reasons `rjct.message_ts.invalid` / `rjct.message_id.duplicate`, which belong to
# callbacks, not to the ACK), so both are a bad request with a finer `.reason`.
TIMESTAMP_WIRE_CODE = ErrorCode.REQUEST_BAD
REPLAY_WIRE_CODE = ErrorCode.REQUEST_BAD


class IbrProtocolError(Exception):
    """Base of every protocol error.

    `code` is the DCI wire code, `reason` a finer dotted code, `field` the JSON path or header
    field the error is about (when there is one).
    """

    default_code: ErrorCode = ErrorCode.REQUEST_BAD

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        reason: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.code: ErrorCode = code or self.default_code
        self.reason: str = reason or self.code.value
        self.field = field
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.reason}{where}: {self.message}"


class SpecError(IbrProtocolError):
    """The spec files cannot be found or read; a deployment fault, not a sender's."""

    default_code = ErrorCode.SERVICE_UNAVAILABLE


@dataclass(frozen=True)
class SchemaErrorDetail:
    """One JSON Schema violation: where, which rule, and what was wrong."""

    path: str
    """JSON path of the offending value, e.g. `$.header.message_ts`."""
    keyword: str
    """The schema keyword that failed, e.g. `required`, `pattern`, `additionalProperties`."""
    message: str
    schema_path: str = ""
    pointer: str = ""
    """The same place as a JSON Pointer, e.g. `/header/message_ts` (`""` is the root)."""
    context: tuple[SchemaErrorDetail, ...] = ()
    """For `oneOf`/`anyOf` failures: the closest branch's own violation."""

    def matches(self, path: str, keyword: str) -> bool:
        """True when this violation, or one in its context, is at `path` by `keyword`.

        `path` may be a JSON path (`$.header`) or a JSON Pointer (`/header`).
        """
        if path in (self.path, self.pointer) and self.keyword == keyword:
            return True
        return any(inner.matches(path, keyword) for inner in self.context)

    def __iter__(self) -> Iterator[str]:
        # Lets callers unpack `(path, message)` as the README documents.
        yield self.path
        yield self.message


class SchemaValidationError(IbrProtocolError):
    """An instance breaks one or more rules of a JSON Schema; `.errors` lists all, best first."""

    def __init__(self, schema: str, errors: list[SchemaErrorDetail]) -> None:
        self.schema = schema
        self.errors = errors
        first = errors[0] if errors else None
        summary = "; ".join(f"{e.path}: {e.message} [{e.keyword}]" for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(
            f"does not match schema {schema}: {summary}{more}",
            code=ErrorCode.REQUEST_BAD,
            reason=ErrorCode.SCHEMA_INVALID.value,
            field=first.path if first else None,
        )


class NormalisationError(IbrProtocolError):
    """A DCI-variant value has no canonical equivalent (e.g. an unknown code label)."""

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        self.rule = rule
        text = f"{message} (rule {rule})" if rule else message
        super().__init__(text, reason=ErrorCode.NORMALISATION_FAILED.value, field=field)


class SignatureError(IbrProtocolError):
    """The envelope signature is missing, malformed, does not match, or its key is unknown."""

    default_code = ErrorCode.SIGNATURE_INVALID


class EncryptionError(IbrProtocolError):
    """A message cannot be encrypted or decrypted."""

    default_code = ErrorCode.ENCRYPTION_INVALID


class TimestampError(IbrProtocolError):
    """`header.message_ts` is malformed or outside the accepted clock window."""

    default_code = TIMESTAMP_WIRE_CODE

    def __init__(self, message: str, *, field: str = "header.message_ts") -> None:
        super().__init__(message, reason=ErrorCode.MESSAGE_TS_INVALID.value, field=field)


class ReplayError(IbrProtocolError):
    """A `message_id` was already received from the same sender within the replay window."""

    default_code = REPLAY_WIRE_CODE

    def __init__(self, message: str, *, field: str = "header.message_id") -> None:
        super().__init__(message, reason=ErrorCode.MESSAGE_ID_DUPLICATE.value, field=field)
