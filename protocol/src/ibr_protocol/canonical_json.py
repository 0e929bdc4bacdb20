"""RFC 8785 (JCS) canonical JSON: orjson for the common case, `rfc8785` whenever it is needed.

orjson with sorted keys writes exactly the JCS bytes for JSON made of dicts with string keys,
lists, strings, booleans, null and integers: no spaces, the same string escapes (`\\b \\t \\n
\\f \\r`, other controls as lowercase `\\u00xx`, everything else as raw UTF-8) and integers as
plain digits. It differs from JCS, so the value goes to the exact `rfc8785` implementation, when:

- it holds a float (JCS prints numbers the ECMAScript way: `1.0` is `1`, `1e21` is `1e+21`);
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


def _orjson_writes_jcs(value: Any) -> bool:
    """True when orjson's sorted-key output of `value` is its RFC 8785 form (see module doc)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_SAFE_INT <= item <= _SAFE_INT:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
                if not key.isascii() and max(key) > "\uffff":
                    return False
            push(item.values())
            continue
        if kind is list:
            push(item)
            continue
        return False
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of `value` (raises `rfc8785`'s errors on what JCS refuses)."""
    if _orjson_writes_jcs(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, or nesting deeper than orjson allows: let rfc8785 decide
    return rfc8785.dumps(value)
