"""Remove secrets from evidence before it is written anywhere."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact_body", "redact_headers"]

REDACTED = "***redacted***"

_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "password", "d", "k", "p", "q"}
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials replaced; the scheme word of Authorization is kept."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            out[name] = _BEARER.sub(r"\1" + REDACTED, value) if "earer" in value else REDACTED
        else:
            out[name] = value
    return out


def redact_body(body: Any) -> Any:
    """A copy of a JSON body with token and private-key members replaced."""
    if isinstance(body, Mapping):
        return {
            k: (REDACTED if k in _SECRET_KEYS and isinstance(v, str) else redact_body(v))
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [redact_body(v) for v in body]
    if isinstance(body, str):
        return _BEARER.sub(r"\1" + REDACTED, body)
    return body
