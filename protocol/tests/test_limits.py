"""Transport rules shared by every receiver: size 413, media type 415, JSON depth and syntax 400."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ibr_protocol.limits import (
    RequestRefusedError,
    check_media_type,
    parse_json_limited,
    read_body_limited,
)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(declared: str | None, *parts: bytes, limit: int) -> bytes:
    return asyncio.run(read_body_limited(declared, _chunks(*parts), limit))


def test_body_within_the_limit_is_read_whole() -> None:
    assert _read("6", b"abc", b"def", limit=6) == b"abcdef"


@pytest.mark.parametrize("declared", ["7", None])
def test_body_over_the_limit_is_413_whether_declared_or_streamed(declared: str | None) -> None:
    with pytest.raises(RequestRefusedError) as refused:
        _read(declared, b"abcd", b"efg", limit=6)
    assert (refused.value.http_status, refused.value.reason) == (413, "err.request.too_large")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/ld+json"]
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    check_media_type(content_type)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "json"])
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(RequestRefusedError) as refused:
        check_media_type(content_type)
    assert (refused.value.http_status, refused.value.reason) == (415, "err.request.media_type")


def test_depth_is_checked_before_parsing_and_strings_do_not_count() -> None:
    assert parse_json_limited(b'{"a": "[[[[[[[["}', max_depth=1) == {"a": "[[[[[[[["}
    with pytest.raises(RequestRefusedError, match="deeper than 3"):
        parse_json_limited(b"[" * 10_000 + b"]" * 10_000, max_depth=3)


def test_invalid_json_is_400() -> None:
    with pytest.raises(RequestRefusedError, match="not valid JSON") as refused:
        parse_json_limited(b'{"a": ', max_depth=5)
    assert refused.value.http_status == 400
