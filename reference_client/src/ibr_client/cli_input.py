"""Reading the command line's structured values: JSON given inline or as a file, and the
search query an operator asks for (identifier, ``--expression`` or ``--predicate``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ibr_client.errors import InputError
from ibr_client.messages import Query, expression_query, idtype_query, predicate_query

__all__ = ["json_value", "search_query"]


def json_value(text: str, option: str) -> Any:
    """``text`` as JSON, or the JSON in the file ``text`` names; errors name ``option``."""
    source = "the value"
    path = Path(text)
    if not text.lstrip().startswith(("{", "[")) and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(option, f"cannot read {path}: {exc}") from None
        source = str(path)
    try:
        return json.loads(text)
    except ValueError as exc:
        hint = "" if source != "the value" else " (give JSON, or the name of a JSON file)"
        raise InputError(option, f"{source} is not JSON: {exc}{hint}") from None


def search_query(
    identifier_type: str | None,
    identifier_value: str | None,
    expression: str | None,
    predicate: str | None,
) -> tuple[str, Query]:
    """The ``(query_type, query)`` of exactly one of: TYPE VALUE, --expression, --predicate."""
    given = [identifier_type is not None, expression is not None, predicate is not None]
    if sum(given) != 1:
        raise InputError(
            "search", "give exactly one of: TYPE VALUE, --expression JSON, --predicate JSON"
        )
    if identifier_type is not None:
        if identifier_value is None:
            raise InputError("search", "TYPE needs a VALUE, e.g. `search NID 12345`")
        return "idtype-value", idtype_query(identifier_type, identifier_value)
    if expression is not None:
        return "expression", _expression(json_value(expression, "--expression"))
    assert predicate is not None
    return "predicate", _predicate(json_value(predicate, "--predicate"))


def _expression(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise InputError(
            "--expression",
            'must be a JSON object, e.g. {"programme_identifier": {"eq": "OAP"}}',
        )
    # Already a DCI QueryExpression ({"type"?, "value": {...}}): sent as given.
    return value if "value" in value else expression_query(value)


def _predicate(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise InputError(
            "--predicate",
            "must be a JSON object or a list of them, e.g. "
            '{"attribute_name": "sex", "operator": "eq", "attribute_value": "female"}',
        )
    if all("attribute_name" in item for item in items):
        return predicate_query(*items)  # bare conditions: all must hold
    return [dict(item) for item in items]  # DCI predicate items (seq_num, expression1, ...)
