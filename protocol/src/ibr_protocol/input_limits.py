"""Values a receiver refuses inside well-formed JSON, before any other work reads them.

Python's JSON parser accepts what no DCI message needs and what breaks later steps: integers
beyond ±(2^53 - 1) (signatures cannot canonicalise them; past Python's integer-length limit the
parser itself raises), ``NaN``,
``Infinity`` and ``1e400`` (a signature cannot canonicalise them, RFC 8785), NUL characters
(PostgreSQL cannot store them) and lone surrogates (not Unicode text, so not encodable as
UTF-8). ``parse_checked_json`` parses and refuses each with `err.request.bad` naming the field
(as a JSON path), never echoing the value.

The cost is nothing on ordinary bodies: the parser hooks only flag a suspicious number, and the
tree is walked (to name the field) only when a hook or a byte scan found something.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ibr_protocol.errors import ErrorCode, IbrProtocolError

__all__ = [
    "MAX_SAFE_INTEGER",
    "InputValueError",
    "check_text",
    "find_refused_value",
    "parse_checked_json",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest accepted JSON integer magnitude: what an IEEE double holds exactly, so what I-JSON
(RFC 7493) allows and RFC 8785 canonicalisation (signatures) can carry."""
_MAX_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))

_ESCAPE_SCAN = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
"""NUL and surrogates can only reach a parsed string through a \\u escape: raw control
characters are refused by the strict parser and raw surrogates are invalid UTF-8."""


_MAX_KEY_IN_PATH = 64


class InputValueError(IbrProtocolError):
    """A JSON value the receiver refuses (huge integer, NaN/Infinity, NUL, lone surrogate)."""

    default_code = ErrorCode.REQUEST_BAD

    def __init__(self, message: str, *, field: str, reason: str = "err.request.bad_value") -> None:
        super().__init__(message, field=field, reason=reason)
        self.http_status = 400


class _Refused:
    """Stands in the parsed tree for a number that was refused, until its path is known."""

    __slots__ = ("rule",)

    def __init__(self, rule: str) -> None:
        self.rule = rule


def parse_checked_json(text: str, *, max_objects: int | None = None) -> Any:
    """``json.loads(text)`` refusing the values above; raises ``InputValueError`` or ValueError.

    ``max_objects`` stops the parser as soon as the body holds more JSON objects than that: a
    list far over its ``maxItems`` then costs a fraction of its parse, not all of it.
    """
    flagged: list[bool] = []
    objects = [0]

    def count_object(value: dict[str, Any]) -> dict[str, Any]:
        objects[0] += 1
        if max_objects is not None and objects[0] > max_objects:
            raise InputValueError(
                f"the body holds more than {max_objects} JSON objects: far more items than "
                "this operation's maxItems allows",
                field="body",
                reason="err.request.too_many_items",
            )
        return value

    def parse_int(digits: str) -> Any:
        # The length is judged first: int() of thousands of digits is slow, or refused.
        if len(digits.lstrip("-")) > _MAX_INTEGER_DIGITS or abs(int(digits)) > MAX_SAFE_INTEGER:
            flagged.append(True)
            return _Refused(f"integers must lie within ±{MAX_SAFE_INTEGER} (I-JSON)")
        return int(digits)

    def parse_float(number: str) -> Any:
        value = float(number)
        if not math.isfinite(value):
            flagged.append(True)
            return _Refused("numbers must be finite (this one overflows)")
        return value

    def parse_constant(name: str) -> Any:
        flagged.append(True)
        return _Refused(f"{name} is not a JSON number")

    # Counting braces (in C) bounds the objects from above: within the budget, no need to count
    # each object as it is parsed (a Python call per object).
    counted = max_objects is not None and text.count("{") > max_objects
    data = json.loads(
        text,
        parse_int=parse_int,
        parse_float=parse_float,
        parse_constant=parse_constant,
        object_hook=count_object if counted else None,
    )
    if flagged or _ESCAPE_SCAN.search(text.encode("utf-8", "surrogatepass")):
        refused = find_refused_value(data)
        if refused is not None:
            path, rule = refused
            raise InputValueError(rule, field=path)
    return data


def check_text(value: str, field: str) -> None:
    """Refuse ``value`` (a string from any source) holding NUL or a lone surrogate."""
    rule = _text_rule(value)
    if rule is not None:
        raise InputValueError(rule, field=field)


def find_refused_value(data: Any, path: str = "$") -> tuple[str, str] | None:
    """``(json path, rule)`` of the first refused value in ``data``, or None."""
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                rule = _text_rule(key)
                if rule is not None:
                    return f"{where} (a key)", rule
                stack.append((f"{where}.{key[:_MAX_KEY_IN_PATH]}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            rule = _text_rule(value)
            if rule is not None:
                return where, rule
        elif isinstance(value, _Refused):
            return where, value.rule
        elif isinstance(value, float) and not math.isfinite(value):
            return where, "numbers must be finite"
    return None


def _text_rule(value: str) -> str | None:
    if "\x00" in value:
        return "NUL characters are not allowed in text"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (a lone surrogate was sent)"
    return None
