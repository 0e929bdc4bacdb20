"""Transport limits applied before any parsing work: body size and JSON nesting depth."""

from __future__ import annotations

import json
import re
from typing import Any

from ibr_service.security.errors import RequestRejectedError

__all__ = ["check_body_size", "parse_json_limited"]


def check_body_size(size: int, limit: int) -> None:
    """Refuse a body larger than ``limit`` bytes (HTTP 413)."""
    if size > limit:
        raise RequestRejectedError(
            f"request body is {size} bytes; the limit is {limit} bytes",
            field="body",
            reason="err.request.too_large",
            http_status=413,
        )


def parse_json_limited(body: bytes, *, max_depth: int) -> Any:
    """Parse ``body`` as JSON after checking that it nests no deeper than ``max_depth``.

    The depth is measured on the raw bytes before ``json.loads`` so that a hostile
    ``[[[[...]]]]`` never reaches the recursive parser.
    """
    _check_depth(body, max_depth)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestRejectedError(f"request body is not valid JSON: {exc}", field="body") from exc


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(body: bytes, max_depth: int) -> None:
    # Strings are removed first (their brackets do not nest) and everything but brackets is
    # dropped in C, so the Python loop only walks the structure, not every byte.
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                raise RequestRejectedError(
                    f"JSON nests deeper than {max_depth} levels",
                    field="body",
                )
        else:
            depth -= 1
