"""Transport limits of the receiver, applied before any parsing: body size, media type, depth.

The same rules as the IBR's inbound pipeline (413 for a body over the limit, 415 for anything
but JSON, 400 for JSON nested deeper than allowed); written here because ``ibr_client`` never
imports the service.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import ibr_protocol as proto

__all__ = ["CallbackRefused", "check_media_type", "parse_json_limited", "read_body_limited"]


class CallbackRefused(proto.IbrProtocolError):
    """A callback broke a transport or header rule; answered with ``http_status``."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int = 400,
        code: proto.ErrorCode = proto.ErrorCode.REQUEST_BAD,
        reason: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, code=code, reason=reason, field=field)
        self.http_status = http_status


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise CallbackRefused(
            f"request body is {size} bytes; the limit is {limit} bytes",
            http_status=413,
            reason="err.request.too_large",
            field="body",
        )


async def read_body_limited(
    declared_length: str | None, chunks: AsyncIterator[bytes], limit: int
) -> bytes:
    """The body, refusing (413) as soon as it is declared or grows past ``limit`` bytes."""
    if declared_length is not None and declared_length.isdigit():
        _check_size(int(declared_length), limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        _check_size(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def check_media_type(content_type: str | None) -> None:
    """Accept ``application/json`` and ``application/*+json`` (parameters allowed); else 415."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return
    raise CallbackRefused(
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
        raise CallbackRefused(f"request body is not valid JSON: {exc}", field="body") from exc


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
                raise CallbackRefused(f"JSON nests deeper than {max_depth} levels", field="body")
        else:
            depth -= 1
