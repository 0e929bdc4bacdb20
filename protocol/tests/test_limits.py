"""Transport rules shared by every receiver: size 413, media type 415, JSON depth and syntax 400."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": {"n": ' + b"7" * 5000 + b"}}", "$.a.n"),
        (b'{"a": [1, -' + b"9" * 19 + b"]}", "$.a[1]"),
        (b'{"a": [1, 9007199254740992]}', "$.a[1]"),
        (b'{"a": NaN}', "$.a"),
        (b'{"a": [Infinity]}', "$.a[0]"),
        (b'{"a": -Infinity}', "$.a"),
        (b'{"a": 1e400}', "$.a"),
        (b'{"name": "ab\\u0000c"}', "$.name"),
        (b'{"x": [{"name": "\\ud800"}]}', "$.x[0].name"),
        (b'{"x": "\\udfff tail"}', "$.x"),
        (b'{"ke\\u0000y": 1}', "$ (a key)"),
    ],
)
def test_values_no_message_may_hold_are_400_naming_the_field(body: bytes, field: str) -> None:
    """If this fails, a huge integer, NaN, NUL or lone surrogate reaches the signature or DB."""
    with pytest.raises(RequestRefusedError) as refused:
        parse_json_limited(body, max_depth=8)
    assert refused.value.http_status == 400
    assert refused.value.field == field
    assert refused.value.code == "err.request.bad"
    assert "\x00" not in str(refused.value)
    assert "ab" not in str(refused.value)


def test_ordinary_values_and_surrogate_pairs_are_kept() -> None:
    body = b'{"n": 9007199254740991, "f": 1.5e10, "s": "\\ud83d\\ude00 \\\\u0000 ok"}'
    assert parse_json_limited(body, max_depth=4) == {
        "n": 9007199254740991,
        "f": 1.5e10,
        "s": "\U0001f600 \\u0000 ok",
    }


@pytest.mark.parametrize(
    "body",
    [
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-16-le"),
        '{"a": 1}'.encode("utf-32"),
        b"\xef\xbb\xbf{}",
        b'{"a": "\xe9"}',
    ],
)
def test_bodies_not_in_utf8_are_415(body: bytes) -> None:
    """If this fails, a UTF-16 body is accepted although JSON on the wire is UTF-8."""
    with pytest.raises(RequestRefusedError) as refused:
        parse_json_limited(body, max_depth=4)
    assert refused.value.http_status == 415


def test_a_charset_other_than_utf8_is_415() -> None:
    check_media_type("application/json; charset=UTF-8")
    with pytest.raises(RequestRefusedError) as refused:
        check_media_type("application/json; charset=utf-16")
    assert refused.value.http_status == 415


@pytest.mark.parametrize(
    ("body", "depth", "allowed"),
    [
        (b'{"a": "[[[[\\"[[[["}', 1, True),
        (b'{"a": "x\\\\\\"]]]]"}', 1, True),
        (b'[[["\\u0041\\\\"]]]', 3, True),
        (b'[[["\\u0041\\\\"]]]', 2, False),
        (b'[{"a": [1, {"b": []}]}]', 5, True),
        (b'[{"a": [1, {"b": []}]}]', 4, False),
        (b"[[], [[], [[], [[]]]]]", 5, True),
        (b"[[], [[], [[], [[]]]]]", 4, False),
        (b'["[", "x", "]]"]', 1, True),
        (b'["[", "x", "]]", [[]]]', 2, False),
    ],
)
def test_depth_counts_structure_only_whatever_strings_hold(
    body: bytes, depth: int, allowed: bool
) -> None:
    """If this fails, brackets or escaped quotes inside strings change the measured depth."""
    if allowed:
        parse_json_limited(body, max_depth=depth)
    else:
        with pytest.raises(RequestRefusedError, match="deeper than"):
            parse_json_limited(body, max_depth=depth)


def test_parsing_stops_at_the_object_budget() -> None:
    """If this fails, a list far over its maxItems is parsed whole before being refused."""
    body = b"[" + b",".join(b'{"a": {"b": 1}}' for _ in range(1000)) + b"]"
    assert len(parse_json_limited(body, max_depth=4, max_objects=2000)) == 1000
    with pytest.raises(RequestRefusedError) as refused:
        parse_json_limited(body, max_depth=4, max_objects=1999)
    assert (refused.value.reason, refused.value.field) == ("err.request.too_many_items", "body")


_texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
"""Text a body may hold (NUL and lone surrogates are refused, tested above)."""
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _texts,
    st.sampled_from(["2020000000000536", "KE-0103", "1e400", "9" * 20, "\U0001f600"]),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_texts, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(_json_values, st.booleans())
def test_the_fast_parse_gives_the_stdlib_values(value: Any, spaced: bool) -> None:
    """If this fails, the orjson path reads a body otherwise than the stdlib parser (a number
    of another type or value, a different string)."""
    text = json.dumps(value, ensure_ascii=spaced, indent=1 if spaced else None)
    parsed = parse_json_limited(text.encode(), max_depth=40)
    expected = json.loads(text)
    assert parsed == expected
    assert _types(parsed) == _types(expected)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value]
    return type(value).__name__


def test_numbers_orjson_would_misread_still_take_the_checked_path() -> None:
    """If this fails, an integer past 64 bits becomes a float instead of being refused."""
    for body in (b"[18446744073709551616]", b'{"a":\n 18446744073709551616}', b"-9" + b"9" * 20):
        with pytest.raises(RequestRefusedError):
            parse_json_limited(body, max_depth=4)
