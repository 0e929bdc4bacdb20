"""The fast canonical JSON writes exactly what the reference `rfc8785` writes, or fails like it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibr_protocol import canonical_bytes
from ibr_protocol.canonical_json import _orjson_writes_jcs, canonical_json

SPEC_EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "spec" / "examples").rglob("*.json"))


def reference_or_error(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except ValueError as exc:  # CanonicalizationError, or UnicodeEncodeError on a lone surrogate
        return type(exc)


def ours_or_error(value: Any) -> bytes | type[Exception]:
    try:
        return canonical_json(value)
    except ValueError as exc:  # CanonicalizationError, or UnicodeEncodeError on a lone surrogate
        return type(exc)


def has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(has_float(item) for item in value)
    return False


def test_the_spec_examples_are_there() -> None:
    assert len(SPEC_EXAMPLES) > 50


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_examples_are_byte_identical(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert canonical_json(document) == rfc8785.dumps(document)
    # The examples are the common case: they must take the fast path, floats included.
    assert _orjson_writes_jcs(document)


def test_rfc8785_key_ordering_example() -> None:
    """RFC 8785 section 3.2.3: keys sort by UTF-16 code units (the emoji before U+FB33)."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()
    assert canonical_json(value) == expected == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (-0.0, b"0"),
        (1e21, b"1e+21"),
        (1e-7, b"1e-7"),
        (0.000001, b"0.000001"),
        (333333333.33333329, b"333333333.3333333"),
        ([1, 2.5, {"a": 4.5e-10}], b'[1,2.5,{"a":4.5e-10}]'),
        (2**53 - 1, b"9007199254740991"),
        (-(2**53 - 1), b"-9007199254740991"),
    ],
)
def test_numbers_are_written_the_ecmascript_way(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [2**53, -(2**53), 2**64, float("nan"), float("inf"), "\ud800", {"k": "x\udfff"}, {1: "a"}],
    ids=["2^53", "-2^53", "2^64", "nan", "inf", "lone-high", "lone-low-in-dict", "int-key"],
)
def test_what_jcs_refuses_is_refused(value: Any) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(value)
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json(value)


def test_floats_take_the_fast_path_with_the_reference_spelling() -> None:
    """Integral, signed-zero, tiny and huge floats inside a document: orjson writes the rest."""
    floats = [34.0, 0.0, -0.0, 1e21, 1e20, 1e-7, 1e-6, 5e-324, 0.1, 123.456, -2.5]
    value = {"amounts": floats, "benefit": {"amount": 800.0, "currency": "KES"}, "n": 3}
    before = json.dumps(value)
    assert _orjson_writes_jcs(value)
    assert has_float(value)
    assert canonical_json(value) == rfc8785.dumps(value)
    assert json.dumps(value) == before  # the value itself is left unchanged
    for bad in (float("nan"), float("inf"), -float("inf")):
        assert not _orjson_writes_jcs({"x": [bad]})


def test_escapes_and_controls() -> None:
    every_ascii = "".join(chr(code) for code in range(0x80))
    value = {every_ascii: every_ascii + "\u2028\u2029\ufeff\U0001f600/\x7f"}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert _orjson_writes_jcs(value)


def test_non_json_types_are_left_to_the_reference() -> None:
    """Tuples and str subclasses go to rfc8785 (orjson would treat some of them its own way)."""

    class Code(str):
        pass

    for value in [("a", 1), {"k": Code("v")}, [True, False, None, ("x",)]]:
        assert not _orjson_writes_jcs(value)
        assert canonical_json(value) == rfc8785.dumps(value)


def test_signing_payload_uses_it() -> None:
    header = {"\U0001f600": 1, "\ufb33": 2, "b": [1.5]}
    assert canonical_bytes(header, {"z": "\u20ac"}) == rfc8785.dumps(
        {"header": header, "message": {"z": "\u20ac"}}
    )


# Keys and strings drawn to hit the hard cases: controls, quotes, backslashes, the characters
# around the surrogate block (U+D7FF, U+E000..U+FFFF), non-BMP characters and lone surrogates.
hard_chars = st.sampled_from(
    [
        *["\x00", "\x1f", "\x7f", '"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\u2028"],
        *["\ud7ff", "\ue000", "\uff61", "\ufffd", "\uffff", "\U00010000", "\U0001f600"],
        *["\U0010ffff", "\ud800", "\udfff", "a", "z", "\u00e9", "\u20ac"],
    ]
)
texts = st.one_of(st.text(hard_chars, max_size=6), st.text(max_size=8))
numbers = st.one_of(
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(),
    st.sampled_from([0.0, -0.0, 1.0, 1e21, 1e20, 1e-6, 1e-7, 5e-324, 1.7976931348623157e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(texts, children, max_size=6),
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_generated_json_is_byte_identical(value: Any) -> None:
    assert ours_or_error(value) == reference_or_error(value)


def test_the_non_bmp_key_guard_is_needed() -> None:
    """orjson alone orders keys by code point: it would put U+FB33 before the emoji."""
    import orjson

    value = {"\U0001f600": 1, "\ufb33": 2}
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) != rfc8785.dumps(value)
    assert not _orjson_writes_jcs(value)
    assert canonical_json(value) == rfc8785.dumps(value)
