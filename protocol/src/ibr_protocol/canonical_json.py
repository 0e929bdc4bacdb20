"""RFC 8785 (JCS) canonical JSON: orjson for the common case, `rfc8785` whenever it is needed.

orjson with sorted keys writes exactly the JCS bytes for JSON made of dicts with string keys,
lists, strings, booleans, null and integers: no spaces, the same string escapes (`\\b \\t \\n
\\f \\r`, other controls as lowercase `\\u00xx`, everything else as raw UTF-8) and integers as
plain digits. Floats are the one scalar it writes differently (JCS prints numbers the ECMAScript
way: `1.0` is `1`, `1e21` is `1e+21`): a value holding finite floats is written by orjson with
each float replaced by an `orjson.Fragment` of the bytes `rfc8785` writes for that float alone
(only the containers on the way to a float are copied). The value goes to the exact `rfc8785`
implementation as a whole when:

- it holds a float that is not finite (JCS refuses it);
- an integer lies outside +-(2**53 - 1) (JCS refuses it; orjson would print it);
- a key holds a character beyond U+FFFF: JCS orders keys by UTF-16 code units, orjson by code
  points, and the two orders disagree only between such a character and U+E000..U+FFFF;
- any container or scalar is not exactly dict/list/str/int/bool/None (tuples, subclasses,
  mappings, dataclasses, datetimes: orjson would accept some of them, differently);
- orjson refuses the value (a string with a lone surrogate): `rfc8785` then raises its own error.

Byte-for-byte agreement with `rfc8785` is tested on the spec's examples and on generated JSON
(protocol/tests/test_canonical_json.py).
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_SAFE_INT = 2**53 - 1


_REFUSED, _PLAIN, _FLOATS = 0, 1, 2


def _scan(value: Any) -> int:
    """`_PLAIN` or `_FLOATS` when orjson can write `value`'s JCS form, else `_REFUSED`."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    floats = False
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_SAFE_INT <= item <= _SAFE_INT:
                continue
            return _REFUSED
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return _REFUSED
                if not key.isascii() and max(key) > "\uffff":
                    return _REFUSED
            push(item.values())
            continue
        if kind is list:
            push(item)
            continue
        if kind is float and item - item == 0.0:  # finite: inf - inf and NaN give NaN
            floats = True
            continue
        return _REFUSED
    return _FLOATS if floats else _PLAIN


def _orjson_writes_jcs(value: Any) -> bool:
    """True when orjson (with floats as fragments) writes `value`'s RFC 8785 form."""
    return _scan(value) != _REFUSED


def _floats_as_fragments(value: Any) -> Any:
    """`value` with every float replaced by a fragment of its JCS bytes; containers that hold
    no float are shared, not copied (the value itself is never changed)."""
    kind = type(value)
    if kind is float:
        return orjson.Fragment(rfc8785.dumps(value))
    if kind is dict:
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            if type(item) in _WALKED:
                new = _floats_as_fragments(item)
                if new is not item:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = new
        return value if copy is None else copy
    if kind is list:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in _WALKED:
                new = _floats_as_fragments(item)
                if new is not item:
                    if items is None:
                        items = list(value)
                    items[index] = new
        return value if items is None else items
    return value


_WALKED = frozenset({float, dict, list})


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of `value` (raises `rfc8785`'s errors on what JCS refuses)."""
    scan = _scan(value)
    if scan != _REFUSED:
        try:
            form = _floats_as_fragments(value) if scan == _FLOATS else value
            return orjson.dumps(form, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, or nesting deeper than orjson allows: let rfc8785 decide
    return rfc8785.dumps(value)
