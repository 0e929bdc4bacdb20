"""Batch requests are checked as a skeleton here; their items are checked one by one in the core.

`sync/enrollment/updates` carries up to `maxItems` beneficiaries. If the host normalised and
validated them with the envelope, one bad beneficiary would turn the whole batch into an ERR.
So the host takes the items out, normalises and validates what is left (header, message shape:
transaction_id, receipt_type, beneficiaries a list within the size limit), and puts the items
back as sent; `IbrCore.enrollment_updates` then normalises and validates each item and rejects
only the bad ones (`ibr_service.core.item_validation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from ibr_protocol import SchemaValidationError, load_schema, validate
from ibr_protocol.errors import SchemaErrorDetail

__all__ = ["BatchItems", "detach_items", "validate_skeleton"]

_MESSAGE_SCHEMA = "messages/enrollment_updates_request"
_CONTAINERS = ("enrolled_updates", "receipt_information")
"""Where the batch sits: the canonical name, then the DCI sample's (rule C-RECEIPT)."""


@dataclass(frozen=True)
class BatchItems:
    """The items taken out of a batch message, to be put back after the skeleton is checked."""

    items: list[Any]

    def attach(self, message: dict[str, Any]) -> None:
        """Put the items (as sent) into the normalised skeleton message."""
        message["enrolled_updates"]["beneficiaries"] = self.items


def detach_items(message: Any, message_schema: str) -> tuple[Any, BatchItems | None]:
    """`(skeleton, items)`: a copy of `message` with an empty beneficiaries list, and the items.

    Returns `(message, None)` untouched when the operation has no item list or the message has
    no list to take out (then the schema check of the whole message reports what is wrong).
    """
    if message_schema != _MESSAGE_SCHEMA or not isinstance(message, dict):
        return message, None
    key = next((k for k in _CONTAINERS if k in message), None)
    container = message.get(key) if key is not None else None
    if not isinstance(container, dict) or "beneficiaries" not in container:
        return message, None
    value = container["beneficiaries"]
    if isinstance(value, dict):
        value = [value]  # rule C-LIST: a single object where a list is canonical
    if not isinstance(value, list):
        return message, None
    return {**message, key: {**container, "beneficiaries": []}}, BatchItems(value)


def validate_skeleton(
    instance: Any, schema: str, batch: BatchItems | None, *, items_pointer: str
) -> None:
    """Validate the skeleton against `schema`, minding that its item list was emptied.

    The emptied list's `minItems` failure is ignored when items were sent; `maxItems` is checked
    on the real count, with the limit read from the spec.
    """
    errors: list[SchemaErrorDetail] = []
    try:
        validate(instance, schema)
    except SchemaValidationError as exc:
        errors = [
            e
            for e in exc.errors
            if not (
                batch and batch.items and e.pointer == items_pointer and e.keyword == "minItems"
            )
        ]
    limit = max_items()
    if batch is not None and len(batch.items) > limit:
        errors.append(
            SchemaErrorDetail(
                path="$" + items_pointer.replace("/", "."),
                keyword="maxItems",
                message=f"{len(batch.items)} beneficiaries sent; at most {limit} per request",
                pointer=items_pointer,
            )
        )
    if errors:
        raise SchemaValidationError(schema, errors)


@cache
def max_items() -> int:
    """`maxItems` of `enrolled_updates.beneficiaries` in the spec."""
    schema = load_schema(_MESSAGE_SCHEMA)
    limit = schema["properties"]["enrolled_updates"]["properties"]["beneficiaries"]["maxItems"]
    return int(limit)
