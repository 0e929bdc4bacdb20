"""Transport rules every receiver applies before reading a body: size, media type, JSON depth.

Both sides of the wire use them (the IBR's inbound pipeline and an SP-MIS's callback receiver):
413 for a body over the limit [IBR-ENV-007], 415 for anything but JSON [IBR-ENV-005], 400 for
JSON that does not parse or nests deeper than allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from ibr_protocol.errors import ErrorCode, IbrProtocolError

__all__ = [
    "RequestRefusedError",
    "check_body_size",
    "check_media_type",
    "parse_json_limited",
    "read_body_limited",
]


class RequestRefusedError(IbrProtocolError):
    """A request broke a transport or header rule; the receiver answers ``http_status``."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int = 400,
        code: ErrorCode = ErrorCode.REQUEST_BAD,
        reason: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, code=code, reason=reason, field=field)
        self.http_status = http_status


def check_body_size(size: int, limit: int) -> None:
    """Refuse a body larger than ``limit`` bytes (HTTP 413)."""
    if size > limit:
        raise RequestRefusedError(
            f"request body is {size} bytes; the limit is {limit} bytes",
            http_status=413,
            reason="err.request.too_large",
            field="body",
        )


async def read_body_limited(
    declared_length: str | None, chunks: AsyncIterator[bytes], limit: int
) -> bytes:
    """The body, refused (413) as soon as it is declared or grows past ``limit`` bytes."""
    if declared_length is not None and declared_length.isdigit():
        check_body_size(int(declared_length), limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        check_body_size(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def check_media_type(content_type: str | None) -> None:
    """Accept ``application/json`` and ``application/*+json`` (parameters allowed); else 415."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return
    raise RequestRefusedError(
        f"Content-Type {media_type or 'none'!r} is not accepted here; send application/json",
        http_status=415,
        reason="err.request.media_type",
        field="Content-Type",
    )


def parse_json_limited(body: bytes, *, max_depth: int) -> Any:
    """Parse ``body`` as JSON after checking that it nests no deeper than ``max_depth``.

    The depth is measured on the raw bytes first, so that a hostile ``[[[[...]]]]`` never
    reaches the recursive parser.
    """
    _check_depth(body, max_depth)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestRefusedError(f"request body is not valid JSON: {exc}", field="body") from exc


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
                raise RequestRefusedError(
                    f"JSON nests deeper than {max_depth} levels", field="body"
                )
        else:
            depth -= 1
