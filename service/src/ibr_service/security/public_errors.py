"""What a refused request is told: the DCI code, the HTTP status, the field and the rule.

Every host answers through these functions, so the text that leaves the IBR is decided in one
place (IBR-ERR-003): an error names where and which rule, never the value sent (values are
personal data: names, identifiers, birth dates) and never the text of a library or database
exception. Our own messages (written in this code base) pass through; a schema violation is
reduced to its path and keyword, a normalisation failure to its rule.
"""

from __future__ import annotations

from ibr_protocol import ErrorCode, IbrProtocolError, NormalisationError, SchemaValidationError
from ibr_protocol.errors import DCI_ERROR_CODES
from ibr_service.core.errors import IbrCoreError, StoreError

__all__ = [
    "INTERNAL_ERROR_MESSAGE",
    "http_status",
    "public_message",
    "status_for_code",
    "wire_code",
]

INTERNAL_ERROR_MESSAGE = "the IBR could not process this request; it has been logged"

_WIRE_CODES = frozenset(code.value for code in DCI_ERROR_CODES)
_MAX_MESSAGE = 400

_STATUS_BY_CODE: dict[str, int] = {
    ErrorCode.REQUEST_UNAUTHORIZED: 401,
    ErrorCode.SIGNATURE_MISSING: 401,
    ErrorCode.SIGNATURE_INVALID: 401,
    ErrorCode.REQUEST_FORBIDDEN: 403,
    ErrorCode.SENDER_ID_INVALID: 403,
    ErrorCode.SENDER_URI_INVALID: 403,
    ErrorCode.REQUEST_NOT_FOUND: 404,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.REQUEST_TOO_MANY_REQUESTS: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


def status_for_code(code: str) -> int:
    """The HTTP status that goes with a DCI error code (400 when nothing more specific fits)."""
    return _STATUS_BY_CODE.get(code, 400)


def wire_code(exc: IbrProtocolError | IbrCoreError) -> str:
    """The DCI ``Error.code`` to send: the error's own when DCI has it, else err.request.bad."""
    code = str(exc.code.value if isinstance(exc.code, ErrorCode) else exc.code)
    return code if code in _WIRE_CODES else ErrorCode.REQUEST_BAD.value


def http_status(exc: IbrProtocolError | IbrCoreError) -> int:
    """The HTTP status of the answer: the error's own (413, 415, 429...) or the code's."""
    if isinstance(exc, SchemaValidationError):
        return 400
    own = getattr(exc, "http_status", None)
    if isinstance(own, int):
        return own
    return status_for_code(wire_code(exc))


def public_message(exc: IbrProtocolError | IbrCoreError) -> str:
    """``<reason> (field <field>): <rule>``, with nothing of what was sent."""
    where = f" (field {exc.field})" if exc.field else ""
    if isinstance(exc, SchemaValidationError):
        text = f"{exc.reason}{where}: does not match schema {exc.schema}: {_schema_rules(exc)}"
    elif isinstance(exc, StoreError):
        # The database's own text quotes the request (personal data): only the fact is told.
        text = f"{exc.reason}{where}: the database refused to store this value"
    elif isinstance(exc, NormalisationError):
        rule = f" (rule {exc.rule})" if exc.rule else ""
        text = f"{exc.reason}{where}: the value has no canonical form{rule}"
    else:
        text = str(exc)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _schema_rules(exc: SchemaValidationError) -> str:
    """``<path> breaks 'keyword'`` per faulty place (at most five), with the names of missing
    or unexpected properties (names from the schema or keys, never a value)."""
    by_path: dict[str, list[str]] = {}
    for error in exc.errors:
        rule = f"'{error.keyword}'"
        if error.keyword in ("required", "additionalProperties"):
            names = error.message.split("'")[1::2]
            rule += f" ({', '.join(name[:40] for name in names[:5])})" if names else ""
        rules = by_path.setdefault(error.path, [])
        if rule not in rules:
            rules.append(rule)
    shown = [f"{path} breaks {', '.join(rules)}" for path, rules in list(by_path.items())[:5]]
    more = f" (+{len(by_path) - 5} more places)" if len(by_path) > 5 else ""
    return "; ".join(shown) + more
