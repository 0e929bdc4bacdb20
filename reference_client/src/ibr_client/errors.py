"""Errors raised by the reference SP-MIS.

Callers catch the base, :class:`IbrClientError`; every error has a one-line ``str()`` that says
what went wrong and what to fix, which is what the command line prints.

    IbrClientError
    +-- ConfigError            bad or missing configuration (names the setting)
    +-- InputError             a malformed command-line value (names the option)
    +-- TransportError         the IBR could not be reached, even after retries
    +-- AuthError              the token endpoint refused the client credentials
    +-- RequestInvalidError    an outgoing message fails the spec (a bug in the caller's data)
    +-- ResponseInvalidError   the IBR answered something the spec does not allow
    +-- IbrRejectedError       the IBR answered NACK/ERR, or rejected a transaction; ``.code``
    |                          carries the DCI code (``err.*`` or ``rjct.*``)
    +-- CallbackTimeoutError   an asynchronous answer did not arrive in time
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CallbackTimeoutError",
    "ConfigError",
    "IbrClientError",
    "IbrRejectedError",
    "InputError",
    "RequestInvalidError",
    "ResponseInvalidError",
    "TransportError",
]


class IbrClientError(Exception):
    """Base of every error the reference client raises."""


class ConfigError(IbrClientError):
    """A setting is missing or invalid; the message names the setting and how to set it."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"configuration: {setting}: {problem}")


class InputError(IbrClientError):
    """A command-line value is malformed (e.g. not JSON); the message names the option."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        super().__init__(f"{option}: {problem}")


class TransportError(IbrClientError):
    """The IBR could not be reached (connection refused, DNS, timeout), even after retries."""

    def __init__(self, url: str, reason: str, *, attempts: int) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(
            f"cannot reach the IBR at {url} after {attempts} attempt(s): {reason}; "
            "check the IBR URL (ibr_url / IBR_CLIENT_IBR_URL) and that the IBR is running"
        )


class AuthError(IbrClientError):
    """The token endpoint refused the client credentials, or the IBR refused the token."""


class RequestInvalidError(IbrClientError):
    """An outgoing message does not validate against the spec; nothing was sent."""

    def __init__(self, schema: str, errors: list[tuple[str, str]]) -> None:
        self.schema = schema
        self.errors = errors
        first = "; ".join(f"{path}: {message}" for path, message in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"outgoing {schema} is invalid, not sent: {first}{more}")


class ResponseInvalidError(IbrClientError):
    """The IBR's answer does not validate against the spec."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        super().__init__(f"the IBR answered an invalid {what}: {detail}")


class IbrRejectedError(IbrClientError):
    """The IBR rejected the request; ``code`` is the DCI code (``err.*`` or ``rjct.*``)."""

    def __init__(self, code: str, message: str, *, correlation_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.correlation_id = correlation_id
        super().__init__(f"the IBR rejected the request: {code}: {message}")


class CallbackTimeoutError(IbrClientError):
    """No callback for the transaction arrived within the time allowed."""

    def __init__(self, transaction_id: str, action: str, timeout: float) -> None:
        self.transaction_id = transaction_id
        self.action = action
        super().__init__(
            f"no {action} callback for transaction {transaction_id} within {timeout:g}s; "
            "check that the callback URL (callback_url) is reachable from the IBR"
        )
