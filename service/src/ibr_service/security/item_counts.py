"""Item counts of a message's lists, checked before anything looks at the items.

The schema would refuse a list over its `maxItems`, but only after validating every item: a
signed `sync/enrolled` with 90,000 criteria (9 MB) cost minutes of CPU that way. So the lists of
the message and of its direct sub-objects are counted first, against the largest `maxItems` the
operation's message schema declares (read from the spec, so the two cannot drift); counting is
free, whatever the DCI variant spelling of the list's name.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ibr_protocol import load_schema
from ibr_service.security.errors import RequestRejectedError
from ibr_service.security.operations import Operation

__all__ = ["OBJECTS_PER_ITEM", "check_item_counts", "item_limit", "object_budget"]

OBJECTS_PER_ITEM = 200
"""JSON objects one item may hold (a beneficiary with its benefits, a criterion with 50
predicates): generous, so that no valid request reaches the budget."""


def check_item_counts(message: Any, operation: Operation) -> None:
    """Refuse (400, naming the list) a list of ``message`` longer than the operation allows."""
    if not isinstance(message, dict):
        return
    limit = item_limit(operation.message_schema)
    for key, value in message.items():
        _check_list(value, f"message.{key}", limit)
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                _check_list(inner, f"message.{key}.{inner_key}", limit)


def _check_list(value: Any, field: str, limit: int) -> None:
    if isinstance(value, list) and len(value) > limit:
        raise RequestRejectedError(
            f"{len(value)} items sent; maxItems is {limit} per request",
            field=field[:120],
            reason="err.request.too_many_items",
        )


def object_budget(operation: Operation) -> int:
    """The most JSON objects a valid request of ``operation`` holds (parsing stops past it)."""
    return item_limit(operation.message_schema) * OBJECTS_PER_ITEM + 1000


@cache
def item_limit(message_schema: str) -> int:
    """The largest `maxItems` in ``message_schema`` (its own keywords, not the schemas it uses)."""
    found: list[int] = []
    _collect_max_items(load_schema(message_schema), found)
    return max(found, default=1000)


def _collect_max_items(node: Any, found: list[int]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("maxItems"), int):
            found.append(node["maxItems"])
        for value in node.values():
            _collect_max_items(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_max_items(value, found)
