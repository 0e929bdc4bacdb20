"""Transport rules every receiver applies before reading a body: size, media type, JSON depth.

Both sides of the wire use them (the IBR's inbound pipeline and an SP-MIS's callback receiver):
413 for a body over the limit [IBR-ENV-007], 415 for anything but JSON [IBR-ENV-005], 400 for
JSON that does not parse or nests deeper than allowed, and for values no message may hold
(``ibr_protocol.input_limits``: huge integers, NaN/Infinity, NUL, lone surrogates). A body is
JSON only in UTF-8 (RFC 8259 section 8.1): any other encoding or charset is 415.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ibr_protocol.errors import ErrorCode, IbrProtocolError
from ibr_protocol.input_limits import InputValueError, parse_checked_json

__all__ = [
    "RequestRefusedError",
    "check_body_size",
    "check_charset",
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
    """Accept ``application/json`` and ``application/*+json`` in UTF-8; else 415."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        check_charset(content_type)
        return
    raise RequestRefusedError(
        f"Content-Type {media_type or 'none'!r} is not accepted here; send application/json",
        http_status=415,
        reason="err.request.media_type",
        field="Content-Type",
    )


def check_charset(content_type: str | None) -> None:
    """Refuse (415) a ``charset`` parameter other than UTF-8: JSON on the wire is UTF-8."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise RequestRefusedError(
                "JSON bodies must be UTF-8; the Content-Type names another charset",
                http_status=415,
                reason="err.request.media_type",
                field="Content-Type",
            )


def parse_json_limited(body: bytes, *, max_depth: int, max_objects: int | None = None) -> Any:
    """Parse ``body`` (UTF-8 JSON) after checking that it nests no deeper than ``max_depth``.

    The depth is measured on the raw bytes first, so that a hostile ``[[[[...]]]]`` never
    reaches the recursive parser. A body in another encoding is 415; a value no message may
    hold is 400 naming the field (``ibr_protocol.input_limits``); more than ``max_objects``
    JSON objects is 400 as soon as the parser gets there.
    """
    _check_depth(body, max_depth)
    text = _utf8_text(body)
    try:
        return parse_checked_json(text, max_objects=max_objects)
    except InputValueError as exc:
        raise RequestRefusedError(exc.message, field=exc.field, reason=exc.reason) from exc
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError; the message says where, never what was sent.
        where = (
            f" at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise RequestRefusedError(f"request body is not valid JSON{where}", field="body") from exc


def _utf8_text(body: bytes) -> str:
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) or (
        len(body) >= 2 and (body[0] == 0 or body[1] == 0)
    ):
        raise RequestRefusedError(
            "JSON bodies must be UTF-8 without a byte-order mark (UTF-16/32 or a BOM was sent)",
            http_status=415,
            reason="err.request.media_type",
            field="body",
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRefusedError(
            f"request body is not UTF-8 (invalid byte at offset {exc.start})",
            http_status=415,
            reason="err.request.media_type",
            field="body",
        ) from exc


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_TO_PARENS = bytes.maketrans(b"[{]}", b"(())")


def _check_depth(body: bytes, max_depth: int) -> None:
    # All in C, whatever the size: escaped backslashes and quotes are removed (escapes pair
    # up left to right, as a parser reads them), everything but brackets and quotes is
    # dropped, and splitting on quotes leaves the brackets outside strings at even positions.
    # Each `replace(b"()", b"")` pass then removes one level: depth d is empty after d passes.
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two adjacent quotes open and close a string without brackets, or close one string and
    # open the next with nothing between: either way they can go, before the slower split.
    kept = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    stream = kept.translate(_TO_PARENS)
    too_deep = RequestRefusedError(f"JSON nests deeper than {max_depth} levels", field="body")
    if b"(" * (max_depth + 1) in stream:
        raise too_deep
    for _ in range(max_depth):
        shorter = stream.replace(b"()", b"")
        if len(shorter) == len(stream):
            return  # empty, or unbalanced (the parser reports that)
        stream = shorter
    if b"()" in stream:
        raise too_deep
